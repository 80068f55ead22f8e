"""lt_core."""
