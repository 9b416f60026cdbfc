"""relay_admin."""
