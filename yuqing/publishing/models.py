"""Models of the publishing module."""
