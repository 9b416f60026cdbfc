# Every developer and CI action goes through here. On a fresh machine use ./dev <recipe>,
# which installs uv and just first.
set shell := ["bash", "-euo", "pipefail", "-c"]
set export

UV_PYTHON_DOWNLOADS := "never"
UV_LINK_MODE := "copy"
state_dir := env("RELAY_STATE_DIR", justfile_directory() / ".state")
refnet := justfile_directory() / "tests/e2e/reference_net"
# The interpreter the environment is built on: Debian's CPython 3.11, built with profile-guided
# optimisation as the deploy image's is; a plain source build (pyenv's) runs the relay 6–16%
# slower (docs/decisions/0005-interpreter.md).
# Exported (like every variable here), so each `uv` call below builds on it and none falls back to
# whatever `python3` comes first on PATH.
UV_PYTHON := env("RELAY_PYTHON", "/usr/bin/python3.11")

# list the recipes
default:
    @just --list

# create the Python environment (and the reference network's npm packages for e2e tests)
setup:
    if [ ! -x "$UV_PYTHON" ] && [ "$UV_PYTHON" = /usr/bin/python3.11 ]; then export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq python3.11 >/dev/null; fi
    uv sync --frozen
    if [ ! -d "{{refnet}}/node_modules" ] || [ "{{refnet}}/package-lock.json" -nt "{{refnet}}/node_modules/.package-lock.json" ]; then cd "{{refnet}}" && npm_config_nodedir=/usr npm ci --no-audit --no-fund --loglevel=error; fi

# bring the whole relay up: NATS, Postgres, migrations, six supervised services
up: setup
    uv run --frozen python -m relay_devstack up --state-dir "{{state_dir}}"

# stop everything `up` started (state survives)
down:
    uv run --frozen python -m relay_devstack down --state-dir "{{state_dir}}"

# regenerate the gRPC/protobuf package from proto/
proto:
    uv run --frozen python tools/gen_proto.py

# fail if generated code is stale
proto-check: proto
    git diff --exit-code -- libs/relay_proto

fmt:
    uv run --frozen ruff format libs services tests tools bench
    uv run --frozen ruff check --fix libs services tests tools bench

fmt-check:
    uv run --frozen ruff format --check libs services tests tools bench

lint:
    uv run --frozen ruff check libs services tests tools bench
    uv run --frozen lint-imports
    uv run --frozen codespell libs services docs tools bench README.md

types:
    uv run --frozen mypy libs/relay_core/src libs/relay_runtime/src libs/relay_devstack/src services/*/src

# repeated code in the hand-written tree (generated protobuf code left out); informative, never fails
dupes:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v duplicates >/dev/null; then echo "duplicates: tool not on this machine; skipped"; exit 0; fi
    tree=$(mktemp -d); trap 'rm -rf "$tree"' EXIT
    git archive HEAD libs/relay_core libs/relay_runtime libs/relay_devstack services tools tests bench | tar -x -C "$tree"
    duplicates --repo "$tree" --most 20 --seconds 60

test-unit: setup
    PYTHONASYNCIODEBUG=1 uv run --frozen pytest tests/unit -q

test-integration: setup
    uv run --frozen pytest tests/integration -q -m integration

test-e2e: setup
    uv run --frozen pytest tests/e2e -q -m e2e

# all three tiers
test: setup
    uv run --frozen pytest tests -q -p no:cacheprovider

# lint, types, generated code fresh
check: setup fmt-check lint types proto-check dupes

bench: setup
    for b in bench/bench_*.py; do echo "== $b"; uv run --frozen python "$b"; done

k3s-apply:
    kubectl apply -k deploy/k3s

# operator CLI, e.g. `just admin hosts list`
admin *ARGS:
    uv run --frozen relay-admin {{ARGS}}
