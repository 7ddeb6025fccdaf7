"""`field__any_of=[...]`: `= ANY(%s)` with one array parameter (PostgreSQL)."""

from django.db.models import CharField, Field, Lookup, TextField


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
