"""The k3s manifests give every service its own memory limit, probes on its ops/gRPC ports, and the
port numbers the dev stack uses (docs/ports.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

K3S = Path(__file__).resolve().parents[3] / "deploy" / "k3s"
SERVICES = {  # name: (grpc, ops, http)
    "slurper": (50051, 9101, 2471),
    "validator": (50052, 9102, None),
    "resolver": (50053, 9103, None),
    "indexer": (50054, 9104, 2472),
    "firehose": (50055, 9105, 2473),
    "admin": (50056, 9106, None),
}


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K3S / f"{name}.yaml").read_text()) if d]


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K3S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K3S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_deployment(name: str) -> None:
    grpc, ops, http = SERVICES[name]
    deployment, service = _docs(name)
    assert deployment["kind"] == "Deployment" and service["kind"] == "Service"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"], "each service needs its own memory limit"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["grpc"] == grpc and ports["ops"] == ops
    assert ports.get("http") == http
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["grpc"]["port"] == grpc


def test_ingress_routes_match_the_dev_router() -> None:
    (ingress,) = _docs("ingress")
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {
        "/xrpc/com.atproto.sync.subscribeRepos": "firehose",
        "/xrpc/com.atproto.sync.requestCrawl": "slurper",
        "/xrpc": "indexer",
    }
