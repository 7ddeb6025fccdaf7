"""The secondary indexes `seed_scale` drops before a large load and builds
again afterwards (faster than maintaining them row by row)."""

from dataclasses import dataclass

from django.db import connection

from core.sql import table_row_estimate
from oms import sql
from orders.models import Order


@dataclass
class IndexRebuild:
    """A secondary index (or unique constraint) dropped for the load."""

    key: str  # the table, as `seed_scale` names it (orders, lines, ...)
    table: str
    index: str
    create: str  # CREATE INDEX, or ALTER TABLE ... ADD CONSTRAINT
    attach: str | None = None  # ALTER TABLE ... ADD CONSTRAINT ... USING INDEX
    weight: float = 1.0  # cost per million rows, to order the builds

    @classmethod
    def of(cls, key, table, index, index_def, constraint, constraint_def, deferrable):
        weight = (
            4.4 if " USING gin " in index_def else 0.4 + 0.35 * key_columns(index_def)
        )
        if not constraint:
            return cls(key, table, index, index_def, weight=weight)
        attach = None
        if (
            constraint_def.startswith("UNIQUE (")
            and not deferrable
            and index.rsplit(".", 1)[-1].strip('"') == constraint
        ):
            # The index is built like any other (alongside the table's other
            # builds) and becomes the constraint's in a moment at the end.
            create = index_def
            attach = sql.constraint_attach(table=table, constraint=constraint)
        else:
            create = sql.constraint_add(
                table=table, constraint=constraint, definition=constraint_def
            )
        return cls(key, table, index, create, attach, weight)


def key_columns(index_def: str) -> int:
    """How many key columns (or expressions) the index sorts on."""
    keys = index_def.split(" USING ", 1)[-1]
    depth, count = 0, 1
    for char in keys[keys.find("(") + 1 :]:
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            count += 1
    return count


def declared_index_sql(model, index: str) -> str | None:
    """The model's CREATE statement for its index (or partial unique
    constraint) named `index`, if it declares one."""
    editor = connection.schema_editor(collect_sql=True)
    for declared in (*model._meta.indexes, *model._meta.constraints):
        if declared.name == index.rsplit(".", 1)[-1].strip('"'):
            return str(declared.create_sql(model, editor))
    return None


def indexes_drop(models: dict, *, adding: int, say) -> list[IndexRebuild]:
    """When the load is at least as big as what is there, drop the secondary
    indexes and unique constraints of the models' tables; return what builds
    them again."""
    rebuild: list[IndexRebuild] = []
    if adding < max(0, table_row_estimate(Order._meta.db_table)):
        return rebuild
    for key, model in models.items():
        table = model._meta.db_table
        for (
            index,
            index_def,
            constraint,
            constraint_def,
            deferrable,
        ) in sql.secondary_indexes(table):
            if not sql.index_drop(table=table, index=index, constraint=constraint):
                continue  # kept: another table's key needs it
            if " WHERE " in index_def:
                # A partial index as its migration wrote it: PostgreSQL's
                # own text of the condition would read back differently.
                index_def = declared_index_sql(model, index) or index_def
            rebuild.append(
                IndexRebuild.of(
                    key, table, index, index_def, constraint, constraint_def, deferrable
                )
            )
    say(f"{len(rebuild)} secondary indexes dropped for the load")
    return rebuild
