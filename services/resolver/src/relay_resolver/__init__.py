"""relay_resolver."""
