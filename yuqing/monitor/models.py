"""Models of the monitor module."""
