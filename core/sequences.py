"""Human document numbers drawn from named counters."""

from core import sql
from core.models import Sequence


def sequence_reserve(*, name: str, count: int = 1) -> range:
    """Reserve `count` consecutive numbers of a counter and return them.

    One statement (an upsert returning the new last value): the counter row
    is locked for the rest of the caller's transaction, so a bulk import
    reserves its whole block with one round trip, and a rolled-back caller
    gives its numbers back.
    """
    last = sql.sequence_add(table=Sequence._meta.db_table, name=name, count=count)
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
