"""Models of the cases module."""
