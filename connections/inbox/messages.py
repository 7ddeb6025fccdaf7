"""What every part of the inbox reads of a stored message: its text kept
clean, and the marks of an order the API took in."""

from datetime import datetime

from django.db.models import Q

from connections.models import InboundMessage

Source = InboundMessage.Source

API_CREATE = "orders/create"
# The delivery id of an order API message that was taken in: a second one for
# the same order (channel, external id) is refused by the unique constraint.
API_ORDER_DELIVERY = "order:"


def failed_after_taken_q() -> Q:
    """Messages that failed after they were taken in: a shop's webhook (always
    answered 200), an order the API answered as taken in (201); not an API
    request refused at once (4xx), whose sender was told then."""
    return Q(status=InboundMessage.Status.FAILED) & (
        Q(response_status__isnull=True) | Q(response_status__lt=400)
    )


def text_clean(text: str) -> str:
    """Return `text` storable: no text column holds NUL; a body with one is
    kept, visibly marked."""
    return text.replace("\x00", "\ufffd")


def api_delivery_id(external_id: str) -> str:
    """The delivery id of the API message that takes this order in."""
    return text_clean(f"{API_ORDER_DELIVERY}{external_id}")[:128]


def api_order_taken(message: InboundMessage) -> bool:
    """Whether the message is an order the API took in (`inbound_api_take`)."""
    return (
        message.source == Source.API
        and message.topic == API_CREATE
        and message.delivery_id.startswith(API_ORDER_DELIVERY)
    )


def api_answered(message: InboundMessage) -> tuple[str, datetime | None]:
    """The number and time an API order was answered with when it was taken
    in (`inbound_api_take`), or ("", None) for an older message."""
    if (
        message.source == Source.API
        and message.delivery_id.startswith(API_ORDER_DELIVERY)
        and isinstance(message.response, dict)
        and isinstance(message.response.get("number"), str)
    ):
        return message.response["number"], message.received_at
    return "", None
