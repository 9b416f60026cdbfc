"""relay_devstack."""
