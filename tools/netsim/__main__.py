"""`python -m tools.netsim --hosts N ...`; see `tools.netsim.cli`."""

from __future__ import annotations

from tools.netsim.cli import main

if __name__ == "__main__":
    main()
