"""Models of the reports module."""
