"""Insert many rows fast through COPY.

Kept instead of django-pgbulk's `copy`, which builds a model instance and
prepares every value through its field per row: `tests/bench/bench_bulk.py`
(100,000 rows, best of 3, A/B in one run, busy machine) measured pgbulk.copy
at 5.4x `bulk_insert`'s time for timeline rows (binary COPY 4.1x), 5.3x for
order lines (4.1x) and 5.7x `copy_lines`' time for the rules' timeline rows
(5.1x).
"""

import itertools
import json
import operator
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from django.db import connection
from django.utils import timezone

from core.history import history_publish


class Json(str):
    """JSON text already encoded, for a JSON column of `bulk_insert`: written
    as is (a caller writing many rows with the same
    value encodes it once)."""


def bulk_insert(model, rows: Iterable[dict]) -> None:
    """Insert rows given as {attname: value} dicts, without per-row ORM work.

    The rows stream through COPY. Columns a row leaves out get the field's
    default (now for auto_now fields), the primary key excepted.
    """
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    defaults = column_defaults(model, first)
    names = [*first, *defaults]
    json_fields = {n for n in names if by_attname[n].get_internal_type() == "JSONField"}
    with _copy(model, names) as copy:
        # Per row only a tuple pick and the JSON columns' encoding: an import
        # streams a few hundred thousand rows through here.
        pick = operator.itemgetter(*first)
        if len(first) == 1:
            pick = (lambda get: lambda row: (get(row),))(pick)
        fixed = list(defaults.values())
        json_at = [i for i, n in enumerate(names) if n in json_fields]
        dumps = json.dumps
        for row in itertools.chain([first], rows):
            values = [*pick(row), *fixed]
            for i in json_at:
                if type(values[i]) is not Json:
                    values[i] = dumps(values[i])
            copy.write_row(values)


def copy_lines(model, names: Sequence[str], lines: Iterable[str]) -> None:
    """Stream rows already in COPY's text format into the model's table: one
    "a\\tb\\n" line per row, in the order of the fields `names` (attnames),
    each value escaped by `copy_text` (None as "\\N"). No per-value
    adaptation: for many rows made of a few prepared pieces."""
    with _copy(model, names) as copy:
        lines = iter(lines)
        while batch := "".join(itertools.islice(lines, 5000)):
            copy.write(batch)


def copy_text(text: str) -> str:
    """A value for COPY's text format: backslashes, tabs and line breaks
    escaped."""
    return (
        text.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )


@contextmanager
def _copy(model, names: Sequence[str]) -> Iterator:
    """A COPY ... FROM STDIN into the model's fields `names` (attnames).

    COPY runs on the driver's own cursor, outside Django's error translation:
    it is wrapped so callers catch django.db.IntegrityError/DataError as for
    any other write (a concurrent import's duplicate is an IntegrityError)."""
    column = {f.attname: f.column for f in model._meta.concrete_fields}
    columns = ", ".join(f'"{column[name]}"' for name in names)
    statement = f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN'
    # The field history's triggers read who and why from the transaction.
    history_publish()
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(statement) as copy,
    ):
        yield copy


def column_defaults(model, given: dict) -> dict:
    """Values for the columns a row leaves out, so callers survive new fields."""
    now = timezone.now()
    values = {}
    for field in model._meta.concrete_fields:
        if field.attname in given or field.primary_key:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            values[field.attname] = now
        elif field.has_default() or field.null:
            values[field.attname] = field.get_default()
        elif field.blank and field.get_internal_type() in ("CharField", "TextField"):
            values[field.attname] = ""
    return values
