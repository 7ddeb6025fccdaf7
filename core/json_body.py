"""Reading a JSON body a machine sent: what cannot be read is said plainly.

Python's json module reads anything JSON allows, and some of that cannot be
used here: nesting thousands of levels deep (the parser itself then raises
RecursionError, and walking the result would too), and strings holding NUL,
which no PostgreSQL text column takes. `json_body_read` reads a body and
refuses those with a `JsonBodyError` whose message names what is wrong and
what to send instead. The order API's parser, the shop webhooks and the
carrier endpoint all read their bodies through it.
"""

import json
from typing import Any

from django.utils.translation import gettext as _

# Arrays and objects nested deeper than this are refused. No order, webhook
# or tracking update nests more than a dozen levels.
MAX_JSON_DEPTH = 64


class JsonBodyError(ValueError):
    """A body that is not JSON this system can take; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(_("%(name)s is not a JSON number") % {"name": name})


def json_body_read(
    body: bytes | str, *, max_depth: int | None = MAX_JSON_DEPTH, nul: bool = False
) -> Any:
    """Return the JSON value `body` holds (UTF-8), or raise JsonBodyError.

    Refused: invalid UTF-8, invalid JSON (NaN and Infinity included),
    arrays and objects nested deeper than `max_depth` (None: only what the
    parser itself cannot read, for a reader that looks at a few known keys
    and stores the rest as text), and (unless `nul`, for a reader that cleans
    strings itself) a NUL character (\\u0000) in any string or key.
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonBodyError(
                _(
                    "The body is not valid JSON: it is not UTF-8 (byte "
                    "%(position)d cannot be read); send JSON encoded as UTF-8."
                )
                % {"position": error.start}
            ) from None
    if body.startswith("\ufeff"):
        body = body[1:]  # a byte order mark, as some clients send
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise JsonBodyError(too_deep_message(max_depth or MAX_JSON_DEPTH)) from None
    except ValueError as error:
        # Not JSON, or a number with more digits than Python reads.
        raise JsonBodyError(
            _("The body is not valid JSON: %(error)s.") % {"error": error}
        ) from None
    # JSON text holds a NUL only as the escape \u0000 (a raw one is refused
    # by the parser): without it, no string needs looking at.
    json_value_check(data, max_depth=max_depth, nul=nul or "\\u0000" not in body)
    return data


def too_deep_message(max_depth: int = MAX_JSON_DEPTH) -> str:
    """Return what a client is told when its JSON nests too deeply."""
    return _(
        "The body is not valid JSON here: it is nested too deeply (arrays and "
        "objects more than %(max)d levels deep); send at most %(max)d levels."
    ) % {"max": max_depth}


def nul_message(where: str) -> str:
    """Return what a client is told when a JSON string holds NUL."""
    return _(
        "The body is not valid JSON here: it holds a NUL character (\\u0000) "
        "in %(where)s, which cannot be stored; remove it and send again."
    ) % {"where": where}


def json_value_check(
    data: Any, *, max_depth: int | None = MAX_JSON_DEPTH, nul: bool = False
) -> None:
    """Raise JsonBodyError when `data` (as json.loads gives it) nests deeper
    than `max_depth` or (unless `nul`) holds NUL in a string or key.
    Iterative: a value nested as deep as the parser allows does not exhaust
    the stack here. Only arrays and objects are visited (every webhook is
    read through this before it is answered: the walk is kept to what the
    depth needs), strings only when NUL is looked for."""
    if not isinstance(data, dict | list):
        if not nul and isinstance(data, str) and "\x00" in data:
            raise JsonBodyError(nul_message("$"))
        return
    if max_depth is not None:
        _depth_check(data, max_depth)
    if not nul and (where := _nul_path(data)):
        raise JsonBodyError(nul_message(where))


def _depth_check(data: dict | list, max_depth: int) -> None:
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if depth >= max_depth:
            raise JsonBodyError(too_deep_message(max_depth))
        for item in value.values() if isinstance(value, dict) else value:
            if isinstance(item, dict | list):
                pending.append((item, depth + 1))


def _nul_path(data: Any) -> str:
    """Where in `data` (nested at most MAX_JSON_DEPTH deep) a string or key
    holds NUL, as a path (`$.customer.name`; cut short past 200
    characters), or "" where none does."""
    pending: list[tuple[Any, str]] = [(data, "$")]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return _("a key in %s") % path
                pending.append((item, f"{path}.{key}" if len(path) < 200 else path))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                pending.append((item, f"{path}[{index}]" if len(path) < 200 else path))
    return ""
