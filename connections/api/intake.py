"""Orders sent to the API: checked in the request, stored with their answer,
written by the worker in batches (the inbox's drain) with the number and
time they were answered with."""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone

from connections.inbox.applying import (
    new_order_of,
    products_of,
    skus_unknown,
    skus_wanted,
)
from connections.inbox.messages import (
    API_CREATE,
    api_delivery_id,
    failed_after_taken_q,
    text_clean,
)
from connections.inbox.payload import (
    FieldProblem,
    PayloadError,
    external_id_of,
    payload_check,
)
from connections.inbox.storing import inbound_insert_or_earlier, inbound_process_soon
from connections.models import InboundMessage
from connections.sql import api_order_or_number
from core.sequences import format_number, sequence_relation
from orders.models import Channel, Order
from orders.services.orders import (
    ORDER_NUMBER_PREFIX,
    ORDER_SEQUENCE,
    order_draft,
    order_draft_lines,
)

Status = InboundMessage.Status
Source = InboundMessage.Source


@dataclass(frozen=True)
class ApiCheck:
    """An API order checked (`inbound_api_check`): its problems, the order of
    the channel with its external id if there is one, or the `earlier`
    message that took it in, else the order as it will be written (`draft`,
    unsaved, with its `lines`)."""

    problems: list[FieldProblem]
    existing: Order | None = None
    earlier: InboundMessage | None = None
    draft: Order | None = None
    lines: list = field(default_factory=list)
    external_id: str = ""


def inbound_api_check(*, channel: Channel, body: Any) -> ApiCheck:
    """Check an order sent to the API as the worker will take it in: the
    shared validator, its SKUs, and whether the channel
    has the order already. A new order gets its number (outside any
    transaction, from a sequence: it waits for no import) and is drafted as
    `orders_create_many` will write it. One statement; nothing else is
    written."""
    now = timezone.now()
    try:
        parsed = payload_check(body, now=now)
    except PayloadError as error:
        return ApiCheck(error.problems, external_id=external_id_of(body))
    # Read on every request (one query for all its SKUs, what a hit in the
    # database cache would cost): a product deactivated or added counts at once.
    products = products_of(skus_wanted(parsed))
    unknown = skus_unknown(parsed, products)
    if unknown:
        return ApiCheck(unknown, external_id=parsed.external_id)
    # The channel's order, or an earlier message that took it in and waits
    # for the worker, and the number of a new order: one statement.
    order_id, message_id, last = api_order_or_number(
        channel_id=channel.pk,
        external_id=parsed.external_id,
        delivery_id=api_delivery_id(parsed.external_id),
        sequence=sequence_relation(ORDER_SEQUENCE),
    )
    if order_id is not None:
        existing = Order.objects.get(pk=order_id)
        return ApiCheck([], existing=existing, external_id=parsed.external_id)
    if message_id is not None:
        earlier = InboundMessage.objects.get(pk=message_id)
        return ApiCheck([], earlier=earlier, external_id=parsed.external_id)
    number = format_number(ORDER_NUMBER_PREFIX, last) if last is not None else ""
    new = new_order_of(
        channel=channel,
        message_id=None,
        parsed=parsed,
        products=products,
        number=number,
    )
    draft = order_draft(
        order=new,
        number=new.number,
        placed_at=parsed.placed_at or now,
        now=now,
        hold=new.hold(),
    )
    return ApiCheck(
        [],
        draft=draft,
        lines=order_draft_lines(order=draft, new=new),
        external_id=parsed.external_id,
    )


def inbound_api_take(
    *,
    channel: Channel,
    body: bytes,
    check: ApiCheck,
    response_status: int,
    response: dict,
    idempotency_key: str = "",
    body_hash: str = "",
) -> tuple[InboundMessage, bool]:
    """Store an API order message with its answer (one INSERT, no transaction);
    return it and whether it is new.

    A new order (`check.draft`) is stored waiting (received), named by its
    external id: the worker writes it in a batch with the others waiting
    (`inbound_drain`), with the number and time of the answer. A second
    message for the same order, or the same Idempotency-Key, stores nothing:
    the earlier message comes back. A refused or repeated order is stored
    done (failed, duplicate), with its answer, for the Idempotency-Key."""
    waiting = check.draft is not None
    if waiting:
        status, error, order_id = Status.RECEIVED, "", None
    elif check.existing is not None:
        status, error, order_id = Status.DUPLICATE, "", check.existing.pk
    elif check.earlier is not None:
        status, error, order_id = Status.DUPLICATE, "", check.earlier.order_id
    else:
        status, order_id = Status.FAILED, None
        error = "; ".join(str(problem) for problem in check.problems)[:2000]
    now = timezone.now()
    key = text_clean(idempotency_key)[:255]
    message = InboundMessage(
        channel=channel,
        source=Source.API,
        topic=API_CREATE,
        delivery_id=api_delivery_id(check.external_id) if waiting else "",
        idempotency_key=key,
        body_hash=body_hash,
        external_id=text_clean(check.external_id)[:64],
        received_at=check.draft.created_at if waiting else now,
        status=status,
        error=error,
        attempts=0 if waiting else 1,
        body=text_clean(body.decode("utf-8", "replace")),
        headers={"Idempotency-Key": key} if key else {},
        response_status=response_status,
        response=response,
        processed_at=None if waiting else now,
        order_id=order_id,
    )
    stored, new = inbound_insert_or_earlier(message)
    if new and waiting:
        inbound_process_soon(stored)
    return stored, new


def inbound_api_waiting(*, channel: Channel, external_id: str) -> InboundMessage | None:
    """The API message of an order taken in and not written yet, or None."""
    return (
        InboundMessage.objects.filter(
            channel=channel,
            source=Source.API,
            delivery_id=api_delivery_id(external_id),
            status=Status.RECEIVED,
        )
        .only("pk", "response", "response_status", "status")
        .first()
    )


def inbound_order_failed(
    *, channel: Channel, external_id: str
) -> InboundMessage | None:
    """The latest message that took this order in (the API's, or a shop's
    webhook) and failed after it was taken in, or None."""
    return (
        InboundMessage.objects.filter(
            failed_after_taken_q(),
            ~Q(source=Source.API) | Q(topic=API_CREATE),
            channel=channel,
            external_id=external_id,
        )
        .only("pk", "response", "status", "error", "source", "processed_at")
        .order_by("-received_at", "-pk")
        .first()
    )
