"""What a channel must hear about its orders, handed to the later app that
sends it (the outbox in fulfillment), named in `OMS_ORDER_OUTBOUND_HANDLERS`
so orders never imports fulfillment."""

from collections.abc import Iterable

from django.conf import settings
from django.utils.module_loading import import_string

CREATED = "order.created"
CANCELLED = "order.cancelled"


def order_outbound_notify(
    *, event: str, order_ids: Iterable[int], reason: str = ""
) -> None:
    """Within the caller's transaction, record `event` for these orders."""
    order_ids = sorted(set(order_ids))
    if not order_ids:
        return
    for dotted_path in getattr(settings, "OMS_ORDER_OUTBOUND_HANDLERS", []):
        import_string(dotted_path)(event=event, order_ids=order_ids, reason=reason)
