"""``python -m relay_admin``: run the admin service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from relay_admin.main import main

asyncio.run(main())
