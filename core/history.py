"""Field history: who changed which field of an order, a stock level, … and why.

django-pghistory's database triggers record it, so every write is covered
whatever issues it (`save()`, `update()` with `F()`, COPY, set-based SQL):

- `tracked` declares a model's history: an event row with every field on
  insert and on each update that changes a field (statement-level triggers,
  so a bulk write records its rows in one INSERT … SELECT);
- `history_context` names the user and the reason of the writes inside it;
  requests get their user from `pghistory.middleware.HistoryMiddleware`.

The context is stored on each event row (JSON), not in a shared context
row: one request or import records several reasons, each on its own rows.
pghistory's statement-level trigger still upserts that shared row
(`_pgh_attach_context()`, a plpgsql block with a subtransaction) on every
tracked write, although a JSON context never reads it: on a pack-station scan
that was +17 % and on API intake −9.5 % (docs/scale-and-speed.md). The events
here are pghistory's own with that call left out of the trigger's SQL, which
is checked when the triggers are built, so an upgrade that changes the SQL
fails at start-up rather than silently keeping the upsert.
"""

import contextlib
import json
from collections.abc import Iterator, Sequence

import pghistory
import pghistory.trigger
import pgtrigger
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models

from core.sql import history_context_set
from core.users import Actor, acting_user

# The reverse accessor of a tracked model's events: `order.history`.
RELATED_NAME = "history"


_ATTACH_CONTEXT = (
    "WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) "
)
_ATTACHED_CONTEXT_JOIN = ", _pgh_attached_context;"


class _JSONContextTrigger(pghistory.trigger.Event):
    """pghistory's statement-level event trigger without the shared-context
    upsert: the JSON context is read from the transaction's settings."""

    def get_func(self, model):
        func = super().get_func(model)
        sql = func.func
        if _ATTACH_CONTEXT not in sql or _ATTACHED_CONTEXT_JOIN not in sql:
            raise ImproperlyConfigured(
                "django-pghistory's trigger SQL changed: core.history cannot "
                "leave out the shared-context upsert; review it for this version."
            )
        func.func = sql.replace(_ATTACH_CONTEXT, "").replace(
            _ATTACHED_CONTEXT_JOIN, ";"
        )
        return func


class _JSONContextEvents:
    """Register the trigger above in place of pghistory's own."""

    def add_event_trigger(self, event_model):
        pgtrigger.register(
            _JSONContextTrigger(
                event_model=event_model,
                label=self.label,
                name=self.trigger_name,
                row=self.row,
                operation=self.operation,
                condition=self.condition,
                level=self.level,
            )
        )(event_model.pgh_tracked_model)


class _InsertEvent(_JSONContextEvents, pghistory.InsertEvent):
    pass


class _UpdateEvent(_JSONContextEvents, pghistory.UpdateEvent):
    pass


def tracked(*, model_name: str, ignore: Sequence[str] = ()):
    """Track every field of the decorated model in the event model `model_name`.

    An update writes an event only when a field changes other than the
    `auto_now` ones and `ignore` (bookkeeping such as `version`). The events
    are read by object, newest first (the History page): one index for that.
    """
    return pghistory.track(
        _InsertEvent(),
        _UpdateEvent(
            condition=pghistory.AnyChange(exclude=list(ignore), exclude_auto=True)
        ),
        model_name=model_name,
        obj_field=pghistory.ObjForeignKey(related_name=RELATED_NAME),
        context_field=pghistory.ContextJSONField(),
        level=pghistory.Statement,
        meta={
            "ordering": ["-pgh_id"],
            "get_latest_by": "pgh_id",
            "indexes": [
                models.Index(
                    fields=["pgh_obj", "pgh_id"], name=f"{model_name.lower()[:24]}_obj"
                )
            ],
        },
    )


@contextlib.contextmanager
def history_context(*, actor: Actor = None, reason: str = "") -> Iterator[None]:
    """Record `reason` (and `actor`, when given) on the history the block writes.

    Nested blocks set their own reason and give the outer one back on exit.
    pghistory hands the context to each statement that goes through Django's
    cursor (set_config before it, for the rest of the transaction); a COPY
    does not, so `core.bulk` calls `history_publish` before one."""
    with pghistory.context() as context:
        outer = dict(context.metadata)
        user = acting_user(actor)
        if user is not None:
            context.metadata["user"] = user.pk
        context.metadata["reason"] = reason
        try:
            yield
        finally:
            context.metadata.clear()
            context.metadata.update(outer)


def history_publish() -> None:
    """Set the transaction's pghistory settings to the current context now, for
    a statement Django's cursor does not see (COPY). Without a context (or
    outside a transaction, where they would not last) nothing is sent."""
    with pghistory.context() as context:
        if not context.metadata or not connection.in_atomic_block:
            return
        encoder = pghistory.config.json_encoder()
        history_context_set(
            context_id=str(context.id),
            metadata_json=json.dumps(context.metadata, cls=encoder),
        )
