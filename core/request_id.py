"""The request id: one short string that ties together every log line, error
report and background job that a request caused.

- `RequestIdMiddleware` (first in `MIDDLEWARE`) takes the caller's
  `X-Request-ID` when it is sane (1 to 64 letters, digits, `-`, `_`, `.`,
  `:`), or makes a new one, binds it for the request and echoes it in the
  response's `X-Request-ID`.
- `RequestIdFilter` (on the log handler, `LOGGING`) writes it on every log
  record as `request_id` ("-" outside any request or job), which the text and
  JSON formats print.
- A background job carries it: the enqueueing side reads
  `request_id_current()` and stores it with the job; the job's side runs under
  `request_id_bound(stored)` (docs/operations.md, "Request ids"). A job that
  carried none runs under its own job id.

A contextvar holds it, so threads (gunicorn's gthread) and asyncio tasks each
see their own.
"""

import contextlib
import contextvars
import logging
import re
import uuid
from collections.abc import Iterator

from django.core.signals import request_finished

HEADER = "X-Request-ID"
# What an incoming id may look like: short and printable, so it can go into a
# log line, a header and a Sentry tag as it is.
SANE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
NONE = "-"

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "oms_request_id", default=None
)


def request_id_new() -> str:
    """Return a fresh request id (32 hex digits)."""
    return uuid.uuid4().hex


def request_id_sane(value: str | None) -> str | None:
    """Return `value` when it may be used as a request id, else None."""
    if value and SANE.match(value):
        return value
    return None


def request_id_current() -> str | None:
    """Return the id of the request (or job) being served, if any."""
    return _current.get()


@contextlib.contextmanager
def request_id_bound(request_id: str | None) -> Iterator[str | None]:
    """Run the block with `request_id` as the current id (None: keep the
    current one), restoring the previous one after."""
    if not request_id:
        yield _current.get()
        return
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


class RequestIdFilter(logging.Filter):
    """Add `request_id` to every record (for the log formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = _current.get() or NONE
        return True


def request_id_clear(**kwargs) -> None:
    """Forget the request's id (`request_finished`: the answer is sent)."""
    _current.set(None)


class RequestIdMiddleware:
    """Bind a request id for the request and echo it in the response.

    The id stays bound until the request is finished (`request_finished`),
    not merely until this middleware returns: Django logs a failed response
    (`django.request`) after the whole middleware chain."""

    def __init__(self, get_response):
        self.get_response = get_response
        request_finished.connect(request_id_clear, dispatch_uid="core.request_id")

    def __call__(self, request):
        request_id = request_id_sane(request.headers.get(HEADER)) or request_id_new()
        request.request_id = request_id
        _current.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response
