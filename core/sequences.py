"""Human document numbers (SO-000123, SH-000045) drawn from PostgreSQL
sequences.

Each kind of number has its own sequence, `number_<name>`, created by the
migration of the app whose table keeps the numbers (orders: `number_order`;
fulfillment: `number_shipment`, `number_pick_list`; returns: `number_return`,
`number_refund`; connections: `number_outbox_stock`) and started after the
highest number in use. Drawing is `nextval`: nothing waits for anyone, and a
number drawn by a transaction that rolls back is not used again (numbers can
have gaps; they never repeat).
"""

from core import sql


def sequence_relation(name: str) -> str:
    """Return the PostgreSQL sequence drawing the numbers named `name`."""
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(f"{name!r} is not a number sequence's name.")
    return f"number_{name}"


def sequence_reserve(*, name: str, count: int = 1) -> list[int]:
    """Reserve the next `count` numbers of a kind and return them, ascending.

    One statement (`nextval` over a series), outside any lock: a bulk
    import reserves its whole block in one round trip while API and admin
    orders keep drawing theirs. The block is consecutive unless another
    process drew numbers at the same moment.
    """
    if count < 1:
        return []
    return sql.sequence_next(sequence=sequence_relation(name), count=count)


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
