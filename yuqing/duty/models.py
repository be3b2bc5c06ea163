"""Models of the duty module."""
