"""`field__any_of=[...]`: `= ANY(%s)` with one array parameter (PostgreSQL);
`any_of()` picks it or `__in` by database."""

from collections.abc import Iterable, Iterator, Sequence

from django.db import connection
from django.db.models import CharField, Field, Lookup, Q, TextField


class AnyOf(Lookup):
    lookup_name = "any_of"

    def get_prep_lookup(self):
        return list(self.rhs)

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, self.rhs]


Field.register_lookup(AnyOf)
CharField.register_lookup(AnyOf)
TextField.register_lookup(AnyOf)


def any_of(field: str, values: Iterable) -> Q:
    """Filter `field` on many values: `= ANY(%s)` with one array parameter on
    PostgreSQL (no parameter list to build or parse), `IN (...)` elsewhere."""
    values = list(values)
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__any_of": values})
    return Q(**{f"{field}__in": values})


def lookup_chunks(values: Sequence, size: int = 5000) -> Iterator[Sequence]:
    """Split values for `any_of`: all at once on PostgreSQL, in chunks of
    `size` elsewhere (SQLite limits the parameters of one query)."""
    if connection.vendor == "postgresql":
        if values:
            yield values
        return
    for start in range(0, len(values), size):
        yield values[start : start + size]
