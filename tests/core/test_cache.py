"""The one cache helper (core.cache) over Django's cache framework: the
database cache by default, Redis when REDIS_URL is set; keys named and
versioned, values forgotten on write, counts atomic across processes."""

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from django.core.cache import cache, caches
from django.db import connection, transaction
from django.test import override_settings

from core import cache as helper
from core.apps import cache_table_create

ROOT = Path(__file__).resolve().parents[2]
REDIS_TEST_URL = os.environ.get("OMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")


def settings_cache(**env: str) -> str:
    """The backend of the default cache as `oms.settings` sets it with `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.pop("REDIS_URL", None)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from oms import settings; "
            "print(settings.CACHES['default']['BACKEND'], "
            "settings.CACHES['default'].get('LOCATION'))",
        ],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "oms.settings", **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def on_redis():
    """The default cache on the Redis server, under a prefix of this test's
    own (tests run side by side on one Redis database)."""
    prefix = f"oms-test-{uuid.uuid4().hex}"
    backend = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_TEST_URL,
        "KEY_PREFIX": prefix,
    }
    with override_settings(CACHES={"default": backend}):
        yield caches["default"]
        caches["default"].close()
    client = redis.Redis.from_url(REDIS_TEST_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_the_database_cache_is_the_default():
    assert settings_cache() == ("django.core.cache.backends.db.DatabaseCache oms_cache")


def test_redis_is_the_cache_when_redis_url_is_set():
    assert settings_cache(REDIS_URL="redis://cache.internal:6379/2") == (
        "django.core.cache.backends.redis.RedisCache redis://cache.internal:6379/2"
    )


def test_keys_are_named_and_versioned():
    assert helper.cache_key("api-key-rate", 7) == (
        f"oms:v{helper.CACHE_VERSION}:api-key-rate:7"
    )


@pytest.mark.django_db
def test_migrate_makes_the_cache_table_when_missing():
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE oms_cache")
    cache_table_create(using="default")

    cache.set("made", 1)
    assert cache.get("made") == 1


@pytest.mark.django_db
def test_get_or_compute_computes_once_then_reads():
    calls = []

    def compute():
        calls.append(1)
        return {"value": len(calls)}

    first = helper.cache_get_or_compute("k", compute, timeout=60)
    again = helper.cache_get_or_compute("k", compute, timeout=60)

    assert first == again == {"value": 1} and calls == [1]


@pytest.mark.django_db
def test_a_zero_timeout_computes_every_time_and_stores_nothing():
    values = iter([1, 2])
    assert helper.cache_get_or_compute("z", lambda: next(values), timeout=0) == 1
    assert helper.cache_get_or_compute("z", lambda: next(values), timeout=0) == 2
    assert cache.get("z") is None


@pytest.mark.django_db
def test_forget_inside_a_transaction_deletes_again_once_it_commits(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        helper.cache_forget("stale")
        # Another process read the rows as they were, and stored them.
        cache.set("stale", "before the write")
    assert cache.get("stale") is None


@pytest.mark.django_db(transaction=True)
def test_database_count_is_atomic_across_connections():
    """Threads, each on its own connection, as processes are: no count lost."""

    def count(_):
        try:
            return helper.cache_count("hits", window=60)
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(count, range(80)))

    assert sorted(counts) == list(range(1, 81))


@pytest.mark.django_db
def test_database_count_opens_a_new_window_once_the_last_expired():
    assert [helper.cache_count("w", window=60) for _ in range(3)] == [1, 2, 3]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_ratewindow SET expires = now() - interval '1 second'"
        )

    assert helper.cache_count("w", window=60) == 1


def test_redis_count_is_atomic_and_its_window_expires(on_redis):
    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(lambda _: helper.cache_count("r", window=60), range(80)))

    assert sorted(counts) == list(range(1, 81))
    client = redis.Redis.from_url(REDIS_TEST_URL)
    [key] = client.keys(f"{on_redis.key_prefix}:*")
    assert 0 < client.ttl(key) <= 60  # never a count without its window


def test_redis_get_or_compute_and_forget(on_redis):
    helper.cache_get_or_compute("g", lambda: ("plain", 1), timeout=60)
    assert on_redis.get("g") == ("plain", 1)

    helper.cache_forget("g")

    assert on_redis.get("g") is None
