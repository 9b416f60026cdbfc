"""Fixtures are pytest plugins in tests/fixtures/: real, isolated NATS, Postgres, RocksDB,
gRPC servers and the reference atproto network."""

pytest_plugins = [
    "tests.fixtures.nats",
    "tests.fixtures.postgres",
    "tests.fixtures.grpc",
    "tests.fixtures.reference_net",
    "tests.fixtures.relay",
]
