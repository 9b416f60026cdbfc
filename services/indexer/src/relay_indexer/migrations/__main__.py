"""`python -m relay_indexer.migrations DSN`: apply pending migrations and list them."""

from __future__ import annotations

import asyncio
import sys

from relay_indexer.migrations import apply_migrations

if len(sys.argv) != 2:
    raise SystemExit("usage: python -m relay_indexer.migrations DSN")
for applied in asyncio.run(apply_migrations(sys.argv[1])):
    print(f"applied {applied}")
