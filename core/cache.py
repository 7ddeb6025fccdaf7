"""The one cache helper: every cache of the OMS goes through Django's cache
framework here (model: Zulip's `zerver/lib/cache.py`).

- Keys are named: one key function per cached thing, built with `cache_key`,
  under a versioned prefix (bump `CACHE_VERSION` when a cached value's shape
  changes: old entries are then never read).
- Values are plain data (dicts, tuples, ids, strings), never model
  instances: a value read from the cache is a copy, shared with no thread.
- `cache_get_or_compute` reads a key or computes and stores it
  (`cache_read` and `cache_store` read and store);
  `cache_forget` deletes keys, called by the services that write the rows a
  value was computed from, so the next read anywhere computes it again.
- `cache_read(key, per_request=True)` reads a key once per web request
  (a page whose filters all read one key reads it once).
- `cache_count` counts requests in a window, the same for every process
  (rate limits), in one atomic operation on Redis and on the database cache.

The cache is the `default` one of `CACHES`: PostgreSQL (Django's
`DatabaseCache`) unless `REDIS_URL` names a Redis server (oms/settings_ops.py).
"""

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction

from core.sql import rate_window_count

# Bumped when the shape of a cached value changes.
CACHE_VERSION = 1

T = TypeVar("T")


def cache_key(name: str, *parts: object) -> str:
    """Return the key of a cached thing: `oms:v<version>:<name>:<part>:…`."""
    return ":".join(["oms", f"v{CACHE_VERSION}", name, *map(str, parts)])


def cache_get_or_compute(key: str, compute: Callable[[], T], *, timeout: float) -> T:
    """Return the value under `key`, else `compute()` stored there for at
    most `timeout` seconds (0: computed every time, nothing stored). The
    timeout bounds how stale a value written past the services can be; the
    services delete the key when they write (`cache_forget`)."""
    if timeout <= 0:
        return compute()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout)
    return value


# Values read in the web request this thread serves (None outside one):
# emptied when a request starts and dropped when it ends (`CoreConfig.ready`).
_request = threading.local()


def request_memo_start(**kwargs) -> None:
    _request.memo = {}


def request_memo_end(**kwargs) -> None:
    _request.memo = None


def _memo() -> dict[str, Any] | None:
    return getattr(_request, "memo", None)


def cache_read(key: str, *, per_request: bool = False) -> Any:
    """Return the value under `key`, or None; with `per_request`, read once
    per web request (later reads in the request get the same value)."""
    memo = _memo() if per_request else None
    if memo is not None and key in memo:
        return memo[key]
    value = cache.get(key)
    if memo is not None:
        memo[key] = value
    return value


def cache_store(key: str, value: Any, *, timeout: float) -> None:
    """Store `value` under `key` for at most `timeout` seconds."""
    cache.set(key, value, timeout)
    if (memo := _memo()) is not None and key in memo:
        memo[key] = value


def cache_forget(*keys: str) -> None:
    """Delete these keys: their values are computed again on the next read.

    Inside a transaction they are deleted again once it commits: another
    process may have read the rows as they were before it and stored them
    meanwhile (on Redis, whose deletes do not wait for the transaction)."""
    if not keys:
        return
    if (memo := _memo()) is not None:
        for key in keys:
            memo.pop(key, None)
    cache.delete_many(keys)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: cache.delete_many(keys))


def cache_count(key: str, *, window: int) -> int:
    """Count one more request under `key` and return the count in the current
    window (`window` seconds from the key's first request), the same count
    for every process (rate limits).

    Django's cache API has no atomic count: its `incr` is a read and a write
    on the database cache, and two calls on Redis, the second of which may
    recreate a key that just expired without its expiry. So with Redis as
    the cache, one round trip of INCR and EXPIRE NX on the same server
    (redis-py's public client); otherwise one upsert on `core.RateWindow`,
    an unlogged table of our own (`core.sql.rate_window_count`), never
    Django's cache table."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        pipeline = _redis_client().pipeline(transaction=True)
        pipeline.incr(full_key)
        pipeline.expire(full_key, window, nx=True)
        count, _ = pipeline.execute()
        return int(count)
    return rate_window_count(key=key, seconds=window)


# One redis-py client (its connection pool, no data) per server, per process.
_redis_clients: dict[str, redis.Redis] = {}
_redis_clients_lock = threading.Lock()


def _redis_client() -> redis.Redis:
    """The client of the default cache's Redis server (the first one named:
    Django's RedisCache writes there), with the cache's timeouts."""
    config = settings.CACHES["default"]
    location = config["LOCATION"]
    if isinstance(location, str):
        location = location.split(",")
    url = location[0].strip()
    options = config.get("OPTIONS", {})
    with _redis_clients_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = _redis_clients[url] = redis.Redis.from_url(
                url,
                socket_timeout=options.get("socket_timeout", 2),
                socket_connect_timeout=options.get("socket_connect_timeout", 2),
            )
    return client
