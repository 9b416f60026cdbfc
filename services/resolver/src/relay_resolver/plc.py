"""did:plc: documents come from one configured PLC directory, `GET <directory>/<did>`.

The directory URL is operator configuration, so it is trusted as given (the dev stack points it
at a loopback server). The directory answers 404 for an unknown DID and 410 for a tombstoned one;
`DocumentFetcher` maps those to NOT_FOUND and TOMBSTONED.

The directory also serves each DID's operation log, `GET <directory>/<did>/log/audit`: the source
of key histories (`relay_core.key_history`).
"""

from __future__ import annotations

from typing import Any

from relay_core.syntax import Did

from relay_resolver.http_client import DocumentFetcher

__all__ = ["PlcSource", "plc_audit_log_url", "plc_document_url"]


def plc_document_url(directory_url: str, did: Did) -> str:
    """`<directory>/<did>`; a did:plc has only `[a-z2-7]` after its prefix, so no escaping."""
    return f"{directory_url.rstrip('/')}/{did}"


def plc_audit_log_url(directory_url: str, did: Did) -> str:
    return f"{plc_document_url(directory_url, did)}/log/audit"


class PlcSource:
    """Fetches did:plc documents from a PLC directory.

    Args:
        fetcher: the shared pooled HTTP client.
        directory_url: e.g. `https://plc.directory`.
    """

    def __init__(self, fetcher: DocumentFetcher, directory_url: str) -> None:
        self._fetcher = fetcher
        self._directory_url = directory_url

    async def fetch_document(self, did: Did) -> dict[str, Any]:
        return await self._fetcher.fetch_json(plc_document_url(self._directory_url, did), source="plc")

    async def fetch_audit_log(self, did: Did, *, max_bytes: int) -> Any:
        """The decoded audit log (a JSON list when the directory behaves)."""
        return await self._fetcher.fetch_json_value(
            plc_audit_log_url(self._directory_url, did), source="plc_audit", max_bytes=max_bytes
        )
