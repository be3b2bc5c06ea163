"""Fixtures shared with other test packages: the cast of people (one per role, bureau,
outsider) from the permission matrix, and the browser and its page from tests/browser."""

from tests.browser.conftest import browser, page  # noqa: F401  (fixtures, used by name)
from tests.test_permissions import cast  # noqa: F401
