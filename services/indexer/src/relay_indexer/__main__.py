"""``python -m relay_indexer``: run the indexer service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from relay_indexer.main import main

asyncio.run(main())
