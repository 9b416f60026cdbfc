"""Loopback network simulator: a real PLC directory and (later) simulated PDS hosts."""
