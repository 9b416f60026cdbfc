"""relay_proto."""
