"""The NATS and Postgres fixtures give tests real, isolated servers."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

pytestmark = pytest.mark.integration


async def test_jetstream_publish_then_consume(
    jetstream: JetStreamContext, unique_name: Callable[[str], str]
) -> None:
    stream, subject = unique_name("DEVSTACK"), unique_name("devstack")
    await jetstream.add_stream(StreamConfig(name=stream, subjects=[subject]))
    for i in range(3):
        ack = await jetstream.publish(subject, f"m{i}".encode())
        assert ack.stream == stream
    sub = await jetstream.pull_subscribe(subject, durable=unique_name("C"), stream=stream)
    messages = await sub.fetch(3, timeout=5)
    assert [m.data for m in messages] == [b"m0", b"m1", b"m2"]
    for m in messages:
        await m.ack()
    await jetstream.delete_stream(stream)


def test_unique_names_differ(unique_name: Callable[[str], str]) -> None:
    assert unique_name("S") != unique_name("S")


async def test_postgres_dsn_is_a_private_database(postgres_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute("CREATE TABLE t (x int)")
        await conn.execute("INSERT INTO t VALUES (41), (1)")
        assert await conn.fetchval("SELECT sum(x) FROM t") == 42
        assert (
            await conn.fetchval("SELECT current_database()") == postgres_dsn.split("?")[0].rsplit("/", 1)[1]
        )
    finally:
        await conn.close()


async def test_each_test_gets_a_fresh_database(postgres_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('t')") is None
    finally:
        await conn.close()
