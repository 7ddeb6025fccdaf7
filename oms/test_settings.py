"""Settings for the test suite: the production settings, then what tests change.

pytest uses this module (pyproject.toml); processes a test starts (workers,
gunicorn) inherit it through DJANGO_SETTINGS_MODULE. Each value stays
overridable from the environment, so a test can start a worker with
`OMS_TASKS_BACKEND=database`.
"""

import os
import tempfile
from pathlib import Path

# The development settings (no HTTPS redirect, the development secret key);
# Django's test runner turns DEBUG itself off while tests run. Processes a test
# starts inherit it; a test of production settings passes DEBUG=false.
os.environ.setdefault("DEBUG", "true")
# Files the tests keep go to a folder of their own, unless MEDIA_ROOT names
# one: set in the environment, so the processes a test starts (workers, which
# run the production settings, gunicorn) read and write the same files.
os.environ.setdefault("MEDIA_ROOT", str(Path(tempfile.gettempdir()) / "oms-test-media"))

from oms.settings import *  # noqa: E402, F403

# Tasks run in the process that enqueues them unless a test asks for the queue.
OMS_TASKS_BACKEND = os.environ.get("OMS_TASKS_BACKEND", "immediate")


# The shared cache as in production: PostgreSQL's (each test's writes to it
# roll back with the test's transaction), whatever REDIS_URL the shell has;
# the tests of Redis start processes with it or override CACHES.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "oms_cache",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}
# The admin filters' choices are read every time: a test sees what it wrote.
OMS_ADMIN_FILTER_CACHE_SECONDS = float(
    os.environ.get("OMS_ADMIN_FILTER_CACHE_SECONDS", "0")
)

# Passwords hash fast: tests log many users in.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
