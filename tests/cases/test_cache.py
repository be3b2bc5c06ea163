"""The shared cache the public form's rate limit counts in: the database cache's table."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_it_creates_the_database_cache_table_by_migration_and_it_works(settings: Any) -> None:
    from django.core.cache import caches
    from django.db import connection

    assert settings.CACHE_TABLE in connection.introspection.table_names()
    settings.CACHES = {
        "db": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": settings.CACHE_TABLE,
        }
    }
    db = caches["db"]
    assert db.add("petition:1.2.3.4", 0, 60)
    assert db.incr("petition:1.2.3.4") == 1
    assert not db.add("petition:1.2.3.4", 0, 60)
