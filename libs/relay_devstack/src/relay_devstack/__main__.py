"""`python -m relay_devstack`."""

from __future__ import annotations

import sys

from relay_devstack.cli import main

sys.exit(main())
