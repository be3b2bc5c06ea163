"""Models of the alerts module."""
