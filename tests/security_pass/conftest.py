"""The cast of people (one per role, bureau, outsider) comes from the permission matrix."""

from tests.test_permissions import cast  # noqa: F401  (a fixture, used by name)
