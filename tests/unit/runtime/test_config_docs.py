"""docs/config.md must name every env var every service reads, so the docs cannot rot."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest
from relay_runtime.config import RuntimeConfig, env_fields

SERVICES = ("slurper", "validator", "resolver", "indexer", "firehose", "admin")
DOC = (Path(__file__).resolve().parents[3] / "docs" / "config.md").read_text()


def _config_class(service: str) -> type:
    module = importlib.import_module(f"relay_{service}.config")
    return getattr(module, f"{service.capitalize()}Config")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_field_is_documented(service: str) -> None:
    cls = _config_class(service)
    fields = {f.name for f in dataclasses.fields(cls)}
    documented_by_env = env_fields(cls, service=service)
    # Every field is either env-backed or the nested runtime config: nothing is read silently.
    assert fields - set(documented_by_env) == {"runtime"}
    missing = [env for env in documented_by_env.values() if f"`{env}`" not in DOC]
    assert not missing, f"docs/config.md lacks {missing}"


@pytest.mark.parametrize("service", SERVICES)
def test_runtime_fields_are_documented_for_each_service(service: str) -> None:
    for env in env_fields(RuntimeConfig, service=service).values():
        generic = env.replace(f"_{service.upper()}_", "_{SVC}_")
        assert f"`{env}`" in DOC or f"`{generic}`" in DOC, env
    assert f"`RELAY_{service.upper()}_GRPC_PORT`" in DOC
    assert f"`RELAY_{service.upper()}_OPS_PORT`" in DOC


def test_every_field_has_an_attribute_docstring() -> None:
    for service in SERVICES:
        source = Path(importlib.import_module(f"relay_{service}.config").__file__ or "").read_text()
        for name in env_fields(_config_class(service), service=service):
            after = source.split(f"    {name}: ", 1)[1].splitlines()[1].strip()
            assert after.startswith('"""'), f"{service}.{name} has no attribute docstring"
