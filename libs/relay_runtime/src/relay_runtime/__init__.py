"""relay_runtime."""
