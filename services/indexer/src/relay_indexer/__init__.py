"""relay_indexer."""
