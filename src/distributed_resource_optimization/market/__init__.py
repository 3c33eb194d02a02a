"""market layer."""
