"""Lookups for filtering on long lists of values with one array parameter.

- `field__any_of=[...]` (`any_of()`): `= ANY(%s)`, no parameter list to
  build or parse;
- `field__ids_in=[...]` (`ids_in()`): `IN (SELECT unnest(%s::bigint[]))`,
  for integer ids in a query with other conditions too;

and `Digits(field)`, a phone number's digits, for a search through an
expression index.
"""

from collections.abc import Iterable, Iterator, Sequence

from django.db.models import CharField, Field, Func, Lookup, Q, TextField


class AnyOf(Lookup):
    lookup_name = "any_of"

    def get_prep_lookup(self):
        return list(self.rhs)

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, self.rhs]


class IdsIn(Lookup):
    """`field IN (SELECT unnest(%s::bigint[]))`: integer ids as one array that
    the planner joins on, never an index condition.

    PostgreSQL 15 would put `id = ANY(array)` into any index holding the id
    after other columns (`(status, placed_at, id)`, `(channel_id, placed_at,
    id)`) and walk the whole first-column range once per element: quadratic,
    seconds for an import's 25,000 orders."""

    lookup_name = "ids_in"

    def get_prep_lookup(self):
        return list(self.rhs)

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} IN (SELECT unnest(%s::bigint[]))", [*lhs_params, self.rhs]


Field.register_lookup(AnyOf)
CharField.register_lookup(AnyOf)
TextField.register_lookup(AnyOf)
Field.register_lookup(IdsIn)


def any_of(field: str, values: Iterable) -> Q:
    """Filter `field` on many values: `= ANY(%s)` with one array parameter."""
    return Q(**{f"{field}__any_of": list(values)})


def ids_in(field: str, ids: Iterable[int]) -> Q:
    """Filter `field` on many integer ids when the query has other conditions
    too (a status, a join): `IN (SELECT unnest(%s))` (see `IdsIn`)."""
    return Q(**{f"{field}__ids_in": list(ids)})


def lookup_chunks(values: Sequence) -> Iterator[Sequence]:
    """Yield `values` once if there are any: one array parameter takes them
    all. Kept for callers written when other databases needed chunks."""
    if values:
        yield values


class Digits(Func):
    """A text's digits alone (`regexp_replace(text, '\\D', '', 'g')`): a phone
    number as typed, however spaced or punctuated. Indexed as an expression
    (the constants are in the template, so the index and the query say the
    same), it finds "+49 30 1234567" from "4930 1234567"."""

    template = "regexp_replace(%(expressions)s, '\\D', '', 'g')"
    output_field = CharField()
