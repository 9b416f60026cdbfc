"""``python -m relay_resolver``: run the resolver service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from relay_resolver.main import main

asyncio.run(main())
