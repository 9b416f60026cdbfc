"""``python -m relay_slurper``: run the slurper service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from relay_slurper.main import main

asyncio.run(main())
