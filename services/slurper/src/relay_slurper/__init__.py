"""relay_slurper."""
