"""Settings for the test suite: the real settings, with a throw-away data dir and inline tasks.

pytest-django loads this module before any conftest runs, which is why the environment
defaults are set here rather than in a fixture: the data dir, the queue file and the secret
key are decided when ``yuqing.settings`` is imported. DATABASE_URL still chooses the database,
so the same suite runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

if "YUQING_DATA_DIR" not in os.environ:
    # Never the developer's var/: tests must not enqueue into the queue `make run` works from.
    _data_dir = tempfile.mkdtemp(prefix="yuqing-test-")
    os.environ["YUQING_DATA_DIR"] = _data_dir
    atexit.register(shutil.rmtree, _data_dir, ignore_errors=True)
# Tasks run inline where they are enqueued; tests/test_queue.py points the queue at a real
# worker explicitly.
os.environ.setdefault("YUQING_HUEY_IMMEDIATE", "1")

from yuqing.settings import *  # noqa: F403

# Hashing at the production cost would spend seconds per test on creating people.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# WhiteNoise warns on every test client when STATIC_ROOT is missing (`yuqing run` creates it).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

# One process, and each test clears what it uses: the in-memory cache is enough and fastest.
# (The database cache's table is still created by the migration: tests/cases/test_cache.py.)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
