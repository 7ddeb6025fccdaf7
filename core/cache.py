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
`DatabaseCache`) unless `REDIS_URL` names a Redis server (oms/settings.py).
"""

import base64
import datetime
import pickle
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import connections, router, transaction
from django.utils import timezone

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
    for every process that shares the cache.

    Django's `incr` is not atomic on the database cache (a read, then a
    write) and on Redis it is two calls, the second of which may recreate a
    key that just expired without its expiry: so Redis counts with INCR and
    EXPIRE NX in one round trip, and the database cache with one upsert that
    opens the window or adds one to the count in SQL. Windows opened here
    are rows like any other: Django's culling of the table (past
    `MAX_ENTRIES`) removes the expired ones."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return _redis_count(backend, key, window)
    if isinstance(backend, DatabaseCache):
        return _database_count(backend, key, window)
    # The local-memory cache (one process): its incr holds a lock.
    if backend.add(key, 1, window):
        return 1
    try:
        return backend.incr(key)
    except ValueError:  # the window closed in between: open another
        backend.set(key, 1, window)
        return 1


def _redis_count(backend: RedisCache, key: str, window: int) -> int:
    full_key = backend.make_and_validate_key(key)
    client = backend._cache.get_client(full_key, write=True)
    pipeline = client.pipeline(transaction=True)
    pipeline.incr(full_key)
    pipeline.expire(full_key, window, nx=True)
    count, _ = pipeline.execute()
    return int(count)


# A count as the database cache stores it: base64 of a protocol-0 pickle of
# the int (`I<digits>\n.`), a form PostgreSQL can read and increment, and
# that Django's `get` reads back as the int.
_COUNT_DIGITS = (
    "substring(convert_from(decode({table}.value, 'base64'), 'UTF8') from '^I([0-9]+)')"
)
_COUNT_SQL = """
INSERT INTO {table} (cache_key, value, expires) VALUES (%s, %s, %s)
ON CONFLICT (cache_key) DO UPDATE SET
    value = CASE WHEN {table}.expires <= %s THEN EXCLUDED.value ELSE encode(
        convert_to('I' || ({digits}::bigint + 1) || E'\\n.', 'UTF8'), 'base64'
    ) END,
    expires = CASE WHEN {table}.expires <= %s
        THEN EXCLUDED.expires ELSE {table}.expires END
RETURNING value
"""


def _database_count(backend: DatabaseCache, key: str, window: int) -> int:
    """One statement: open the window (a new row, or the expired one
    replaced) or add one to its count; concurrent requests wait for the row
    and each adds to the count the one before it left."""
    full_key = backend.make_and_validate_key(key)
    connection = connections[router.db_for_write(backend.cache_model_class)]
    table = connection.ops.quote_name(backend._table)
    now = timezone.now()
    one = base64.b64encode(b"I1\n.").decode("ascii")
    sql = _COUNT_SQL.format(table=table, digits=_COUNT_DIGITS.format(table=table))
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [full_key, one, now + datetime.timedelta(seconds=window), now, now],
        )
        (value,) = cursor.fetchone()
    return int(pickle.loads(base64.b64decode(value)))
