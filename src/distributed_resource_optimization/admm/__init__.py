"""admm layer."""
