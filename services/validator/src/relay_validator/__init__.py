"""relay_validator."""
