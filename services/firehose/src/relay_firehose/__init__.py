"""relay_firehose."""
