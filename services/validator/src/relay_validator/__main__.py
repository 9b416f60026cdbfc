"""``python -m relay_validator``: run the validator service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from relay_validator.main import main

asyncio.run(main())
