"""ADMM market clearing tests."""
