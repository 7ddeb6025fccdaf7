"""Field history for bulk writes, which bypass the save() that
django-simple-history listens to (COPY imports, F() stock updates,
bulk status changes)."""

from collections.abc import Iterable
from functools import cache

from django.db import connection
from django.utils import timezone


def history_snapshot(
    model,
    pks: Iterable[int],
    *,
    user=None,
    reason: str = "",
    created: bool = False,
    column: str = "id",
) -> None:
    """Record the current state of these rows in the model's history table.

    `pks` are values of `column` (the primary key, or e.g. a foreign key to
    snapshot every line of some orders)."""
    pks = sorted(set(pks))
    if not pks:
        return
    user_id = (
        user.pk
        if user is not None and getattr(user, "is_authenticated", False)
        else None
    )
    if connection.vendor != "postgresql":
        model.history.bulk_history_create(
            list(model.objects.filter(**{f"{column}__in": pks})),
            update=not created,
            default_user=user if user_id else None,
            default_change_reason=reason,
        )
        return
    columns = [f.column for f in model._meta.concrete_fields]
    quoted = ", ".join(f'"{column}"' for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{_history_table(model)}" ({quoted}, "history_date", '
            '"history_change_reason", "history_type", "history_user_id") '
            f'SELECT {quoted}, %s, %s, %s, %s FROM "{model._meta.db_table}" '
            f'WHERE "{model._meta.get_field(column.removesuffix("_id")).column}" = ANY(%s)',
            [timezone.now(), reason or None, "+" if created else "~", user_id, pks],
        )


@cache
def _history_table(model) -> str:
    """The model's history table (`model.history` builds a manager class each
    time it is read: too dear for every order taken in)."""
    return model.history.model._meta.db_table
