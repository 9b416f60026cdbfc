"""``python -m relay_firehose``: run the firehose service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from relay_firehose.main import main

asyncio.run(main())
