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
    body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, nul: bool = False
) -> Any:
    """Return the JSON value `body` holds (UTF-8), or raise JsonBodyError.

    Refused: invalid UTF-8, invalid JSON (NaN and Infinity included),
    arrays and objects nested deeper than `max_depth`, and (unless `nul`,
    for a reader that cleans strings itself) a NUL character (\\u0000) in
    any string or key.
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
        raise JsonBodyError(too_deep_message(max_depth)) from None
    except ValueError as error:
        # Not JSON, or a number with more digits than Python reads.
        raise JsonBodyError(
            _("The body is not valid JSON: %(error)s.") % {"error": error}
        ) from None
    json_value_check(data, max_depth=max_depth, nul=nul)
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
    data: Any, *, max_depth: int = MAX_JSON_DEPTH, nul: bool = False
) -> None:
    """Raise JsonBodyError when `data` (as json.loads gives it) nests deeper
    than `max_depth` or (unless `nul`) holds NUL in a string or key.
    Iterative: a value nested as deep as the parser allows does not exhaust
    the stack here."""
    pending: list[tuple[Any, int, str]] = [(data, 0, "$")]
    while pending:
        value, depth, path = pending.pop()
        if isinstance(value, str):
            if not nul and "\x00" in value:
                raise JsonBodyError(nul_message(path))
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= max_depth:
            raise JsonBodyError(too_deep_message(max_depth))
        # The path names where a NUL is (cut short past 200 characters).
        if isinstance(value, dict):
            for key, item in value.items():
                if not nul and "\x00" in key:
                    raise JsonBodyError(nul_message(_("a key in %s") % path))
                child = f"{path}.{key}" if len(path) < 200 else path
                pending.append((item, depth + 1, child))
        else:
            for index, item in enumerate(value):
                child = f"{path}[{index}]" if len(path) < 200 else path
                pending.append((item, depth + 1, child))
