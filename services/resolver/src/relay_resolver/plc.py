"""did:plc: documents come from one configured PLC directory, `GET <directory>/<did>`.

The directory URL is operator configuration, so it is trusted as given (the dev stack points it
at a loopback server). The directory answers 404 for an unknown DID and 410 for a tombstoned one;
`DocumentFetcher` maps those to NOT_FOUND and TOMBSTONED.
"""

from __future__ import annotations

from typing import Any

from relay_core.syntax import Did

from relay_resolver.http_client import DocumentFetcher

__all__ = ["PlcSource", "plc_document_url"]


def plc_document_url(directory_url: str, did: Did) -> str:
    """`<directory>/<did>`; a did:plc has only `[a-z2-7]` after its prefix, so no escaping."""
    return f"{directory_url.rstrip('/')}/{did}"


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
