"""Human document numbers drawn from named counters."""

from django.db import connections, router

from core.models import Sequence


def sequence_reserve(*, name: str, count: int = 1) -> range:
    """Reserve `count` consecutive numbers of a counter and return them.

    One statement (an upsert returning the new last value): the counter row
    is locked for the rest of the caller's transaction, so a bulk import
    reserves its whole block with one round trip, and a rolled-back caller
    gives its numbers back.
    """
    connection = connections[router.db_for_write(Sequence)]
    table = connection.ops.quote_name(Sequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, last_value) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE "
            f"SET last_value = {table}.last_value + excluded.last_value "
            "RETURNING last_value",
            [name, count],
        )
        last = cursor.fetchone()[0]
    return range(last - count + 1, last + 1)


def format_number(prefix: str, value: int) -> str:
    """Return a document number such as SO-000123."""
    return f"{prefix}-{value:06d}"


def parse_number(prefix: str, term: str) -> str | None:
    """Return the document number a search term names, or None.

    `SH-000123`, `sh-000123`, `SH000123` and `SH-123` all name `SH-000123`,
    so a number read aloud or typed without its zeros still finds the row.
    """
    text = term.strip().upper().replace(" ", "")
    if not text.startswith(prefix.upper()):
        return None
    digits = text.removeprefix(prefix.upper()).lstrip("-")
    if not digits.isdigit() or len(digits) > 12:
        return None
    return format_number(prefix.upper(), int(digits))
