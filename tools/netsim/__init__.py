"""Loopback network simulator: N simulated PDS hosts and a real PLC directory (docs/netsim.md).

- `plc_directory`: the HTTP PLC directory with deterministic accounts.
- `repo`: one account's repo (MST, signed commits, broken variants); `broken`: the defect kinds.
- `host` / `backlog` / `listener`: a host's seq, replay window, and its WebSocket + XRPC port.
- `group` / `workload`: hosts served by one loop, and the rate-driven event mix.
- `ledger` / `judge`: what was sent, and the reference verdict for each frame.
- `network`: the library entry point for tests; `cli`: `python -m tools.netsim`.
"""
