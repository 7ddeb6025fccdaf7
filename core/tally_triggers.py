"""Counts kept by the database: statement-level triggers (django-pgtrigger)
that write what each statement changed in a table to a change table.

A counted model declares them in its `Meta.triggers`
(`triggers = tally_triggers(...)`); pgtrigger's generated migrations install
them. For each INSERT, UPDATE, DELETE and COPY on the table, one trigger run
per statement adds one row per group of keys to the change table, read from
the statement's transition tables (an import of 25,000 orders adds a few
hundred rows, a status change two). Change rows are only inserted, so
concurrent transactions never wait on a shared counter row; `oms.tallies`
folds them into the tallies and reads the two together.
"""

import datetime

import pgtrigger

# The estimated delivery of shipments without one, in the shipment tally.
NO_ESTIMATE = datetime.date(1, 1, 1)


def tally_triggers(
    *, name: str, changes: str, keys: dict[str, str]
) -> list[pgtrigger.Trigger]:
    """Return the insert, update and delete triggers that count the rows of a
    model into the table `changes`, grouped by `keys` (the change table's
    column -> SQL of the key over a row named `{row}`)."""
    columns = ", ".join(keys)
    groups = ", ".join(str(position) for position in range(1, len(keys) + 1))

    def of(row: str, *, named: bool = False) -> str:
        return ", ".join(
            sql.format(row=row) + (f" AS {column}" if named else "")
            for column, sql in keys.items()
        )

    insert = f"INSERT INTO {changes} ({columns}, change)"
    bodies = {
        "insert": (
            pgtrigger.Insert,
            pgtrigger.Referencing(new="new_values"),
            f"{insert} SELECT {of('new_values')}, count(*) FROM new_values "
            f"GROUP BY {groups};",
        ),
        "update": (
            pgtrigger.Update,
            pgtrigger.Referencing(old="old_values", new="new_values"),
            # Net moves only: rows whose keys did not change cancel out.
            f"{insert} SELECT {columns}, sum(change) FROM ("
            f"SELECT {of('new_values', named=True)}, 1 AS change FROM new_values "
            f"UNION ALL SELECT {of('old_values')}, -1 FROM old_values"
            f") AS moved GROUP BY {groups} HAVING sum(change) <> 0;",
        ),
        "delete": (
            pgtrigger.Delete,
            pgtrigger.Referencing(old="old_values"),
            f"{insert} SELECT {of('old_values')}, -count(*) FROM old_values "
            f"GROUP BY {groups};",
        ),
    }
    return [
        pgtrigger.Trigger(
            name=f"{name}_{event}",
            when=pgtrigger.After,
            operation=operation,
            level=pgtrigger.Statement,
            referencing=referencing,
            func=f"{body} RETURN NULL;",
        )
        for event, (operation, referencing, body) in bodies.items()
    ]
