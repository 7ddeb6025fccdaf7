"""Buying labels through EasyPost, one shipment or many at once.

Each purchase runs in three steps, and the network is never called under
a lock:

1. plan, under lock: the shipment is packed, has rates and a chosen rate;
   its postage is claimed (`buying`, `buying_since`) so no second worker
   buys it at the same time;
2. call EasyPost, outside any transaction: when an earlier attempt's
   outcome is unknown (it timed out), the EasyPost shipment is looked up
   first and a label found there is taken instead of buying again; then
   the label file is fetched and a tracker ensured;
3. record, under lock: tracking number, carrier and service, cost and the
   label file on the shipment's postage, and the shipment ships through
   `fulfillment.services.shipping` like any other.

An EasyPost refusal is kept on the postage (shown in the admin) and
changes nothing else; a timeout leaves the postage `buying` with no owner,
so the next attempt looks the purchase up before buying.
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.exceptions import DomainError
from core.tasks import app
from core.users import Actor
from fulfillment.exceptions import FulfillmentError
from fulfillment.handover import shipment_ship_locked
from fulfillment.locks import (
    lock_postage,
    lock_postages,
    lock_shipment,
    lock_shipments,
)
from fulfillment.models import Shipment, ShipmentStatus
from fulfillment.models.postage import LabelFormat, LocationPostage, ShipmentPostage
from fulfillment.postage import client
from fulfillment.postage.addresses import AddressCheckFailed, order_address_check
from fulfillment.postage.client import claim_lease, label_bought, label_url
from fulfillment.postage.concurrency import concurrency, run_bounded
from fulfillment.postage.labels import (
    label_format_note,
    label_format_of,
    label_store,
)
from fulfillment.postage.parcels import ship_to
from fulfillment.postage.rates import easypost_key
from orders import events as order_events
from orders.locks import lock_order
from orders.models import Order, OrderStatus


@dataclass(frozen=True)
class PurchasePlan:
    shipment_id: int
    number: str
    api_key: str
    easypost_id: str
    rate_id: str
    look_up_first: bool
    verify_address: dict[str, Any] | None = None


@dataclass(frozen=True)
class Purchase:
    """What EasyPost sold: the bought shipment and its label file."""

    answer: dict[str, Any]
    label: bytes
    tracker_id: str
    # The label as kept in the storage (stored before any lock is taken).
    label_name: str = ""


@dataclass
class PurchaseReport:
    bought: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _claim(
    shipment: Shipment,
    postage: ShipmentPostage | None,
    rate_id: str,
    now,
    order_status: str = "",
) -> PurchasePlan:
    """Check one locked shipment and claim its postage for a purchase (the
    caller saves the postage)."""
    if order_status == OrderStatus.ON_HOLD:
        raise FulfillmentError(
            f"The order of shipment {shipment.number} is on hold; release it "
            "(and fetch the rates again if its address changed) before buying."
        )
    if (
        postage is None
        or not postage.rates
        and postage.status != ShipmentPostage.Status.BUYING
    ):
        raise FulfillmentError(
            f"Shipment {shipment.number} has no rates yet; fetch its rates first."
        )
    if postage.status == ShipmentPostage.Status.VOIDING:
        raise FulfillmentError(
            f"The label of shipment {shipment.number} is being voided; buy a new "
            "one once the void is recorded and its rates are fetched again."
        )
    if postage.status == ShipmentPostage.Status.BOUGHT:
        raise FulfillmentError(
            f"Shipment {shipment.number} already has a label "
            f"({postage.label_carrier} {postage.tracking_code})."
        )
    if shipment.status != ShipmentStatus.PACKED:
        raise FulfillmentError(
            f"Shipment {shipment.number} is {shipment.get_status_display().lower()}; "
            "labels are bought for packed shipments."
        )
    if postage.buying_since and now - postage.buying_since < claim_lease():
        raise FulfillmentError(
            f"A label for shipment {shipment.number} is being bought right now; "
            "wait a minute and look again."
        )
    api_key = easypost_key(postage.carrier)
    look_up_first = postage.status == ShipmentPostage.Status.BUYING
    if not look_up_first:
        rate_id = rate_id or postage.rate_id
        if not rate_id:
            raise FulfillmentError(
                f"Shipment {shipment.number}: choose one of its rates to buy."
            )
        if postage.rate(rate_id) is None:
            raise FulfillmentError(
                f"Shipment {shipment.number}: that rate is not one of its current "
                "rates; fetch the rates again and choose one."
            )
        postage.rate_id = rate_id
    verify = None
    if postage.carrier.account.verify_addresses and not look_up_first:
        verify = ship_to(shipment.order)
    postage.status = ShipmentPostage.Status.BUYING
    postage.buying_since = now
    postage.error = ""
    return PurchasePlan(
        shipment_id=shipment.pk,
        number=shipment.number,
        api_key=api_key,
        easypost_id=postage.easypost_shipment_id,
        rate_id=postage.rate_id,
        look_up_first=look_up_first,
        verify_address=verify,
    )


CLAIM_FIELDS = ["status", "buying_since", "rate_id", "error", "updated_at"]


@transaction.atomic
def _purchase_plans(
    choices: Sequence[tuple[int, str]],
) -> tuple[list[PurchasePlan], list[str]]:
    """Lock the shipments and their postage (pk order) and claim each that
    may be bought; return the plans and the problems of the others."""
    wanted = dict(choices)
    shipments = lock_shipments(wanted)
    postages = lock_postages(shipments)
    order_statuses = dict(
        Order.objects.filter(
            pk__in={shipment.order_id for shipment in shipments.values()}
        ).values_list("pk", "status")
    )
    now = timezone.now()
    plans, problems, claimed = [], [], []
    for pk in wanted:
        shipment = shipments.get(pk)
        if shipment is None:
            problems.append(f"No shipment {pk}.")
            continue
        try:
            plans.append(
                _claim(
                    shipment,
                    postages.get(pk),
                    wanted[pk],
                    now,
                    order_statuses.get(shipment.order_id, ""),
                )
            )
        except DomainError as error:
            problems.append(str(error))
        else:
            claimed.append(postages[pk])
    for postage in claimed:
        postage.updated_at = now
    ShipmentPostage.objects.bulk_update(claimed, CLAIM_FIELDS)
    return plans, problems


def _purchase_plan(*, shipment_id: int, rate_id: str = "") -> PurchasePlan:
    plans, problems = _purchase_plans([(shipment_id, rate_id)])
    if problems:
        raise FulfillmentError(problems[0])
    return plans[0]


def _purchase_call(plan: PurchasePlan) -> Purchase:
    """Buy (or find the earlier purchase of) one label; no database here."""
    answer = None
    if plan.look_up_first:
        found = client.shipment_retrieve(plan.api_key, plan.easypost_id)
        if label_bought(found):
            answer = found
        elif not plan.rate_id:
            raise FulfillmentError(f"Shipment {plan.number}: choose a rate to buy.")
    if answer is None:
        if plan.verify_address is not None:
            order_address_check(api_key=plan.api_key, address=plan.verify_address)
        answer = client.shipment_buy(plan.api_key, plan.easypost_id, plan.rate_id)
    label = client.file_download(label_url(answer))
    tracker = answer.get("tracker") or {}
    tracker_id = tracker.get("id", "") if isinstance(tracker, dict) else ""
    if not tracker_id:
        rate = answer.get("selected_rate") or {}
        tracker_id = client.tracker_create(
            plan.api_key, answer["tracking_code"], rate.get("carrier", "")
        ).get("id", "")
    return Purchase(
        answer=answer,
        label=label,
        tracker_id=tracker_id,
        label_name=label_store(
            model=ShipmentPostage,
            stem=f"shipment-{plan.shipment_id}-{answer.get('id') or plan.easypost_id}",
            content=label,
        ),
    )


@transaction.atomic
def _purchase_failed(plan: PurchasePlan, error: DomainError) -> None:
    """Keep EasyPost's message; a refusal frees the shipment, a timeout leaves
    it to be looked up before buying again."""
    postage = lock_postage(plan.shipment_id)
    if postage.status != ShipmentPostage.Status.BUYING:
        return
    postage.error = str(error)[:500]
    postage.buying_since = None
    if not isinstance(error, client.PostageUnavailable) and not plan.look_up_first:
        postage.status = ShipmentPostage.Status.RATED
    postage.save(update_fields=["error", "buying_since", "status", "updated_at"])


def _format_preferred(shipment: Shipment) -> str:
    """The label format the shipment's location asks for."""
    return (
        LocationPostage.objects.filter(location_id=shipment.location_id)
        .values_list("label_format", flat=True)
        .first()
        or LabelFormat.PDF
    )


@transaction.atomic
def _purchase_record(plan: PurchasePlan, purchase: Purchase, actor: Actor) -> Shipment:
    shipment = Shipment.objects.only("order_id").get(pk=plan.shipment_id)
    order = lock_order(shipment.order_id)
    shipment = lock_shipment(plan.shipment_id)
    postage = lock_postage(plan.shipment_id)
    if postage.status == ShipmentPostage.Status.BOUGHT:
        return shipment
    answer = purchase.answer
    rate = answer.get("selected_rate") or {}
    postage.status = ShipmentPostage.Status.BOUGHT
    postage.buying_since = None
    postage.purchases += 1
    postage.tracking_code = answer.get("tracking_code", "")
    postage.label_carrier = rate.get("carrier", "")
    postage.label_service = rate.get("service", "")
    postage.cost = client.decimal_or_none(rate.get("rate"))
    postage.currency = (rate.get("currency") or "")[:3]
    postage.label_url = label_url(answer)[:500]
    # What the file is, not what was asked or what its address says: an
    # account or carrier may ignore the format asked for.
    postage.label_format = label_format_of(purchase.label)
    postage.label_format_asked = postage.label_format_asked or _format_preferred(
        shipment
    )
    note = label_format_note(
        found=postage.label_format, asked=postage.label_format_asked
    )
    postage.label_file = purchase.label_name
    postage.tracker_id = purchase.tracker_id
    postage.bought_at = timezone.now()
    postage.refund_status = ""
    postage.voided_at = None
    postage.error = ""
    postage.save()
    order_events.order_event_fulfillment(
        order=order,
        actor=actor,
        message=f"Label bought for shipment {shipment.number}: "
        f"{postage.label_carrier} {postage.label_service} "
        f"{postage.tracking_code}, {postage.cost} {postage.currency}."
        + (f" {note}" if note else ""),
        data={
            "shipment": shipment.number,
            "postage": "bought",
            "tracking": postage.tracking_code,
            "cost": str(postage.cost),
            "easypost_shipment": postage.easypost_shipment_id,
            "label_format": postage.label_format,
        },
    )
    try:
        with transaction.atomic():
            shipment_ship_locked(
                order=order,
                shipment=shipment,
                actor=actor,
                carrier=postage.carrier,
                tracking_number=postage.tracking_code,
            )
            # The label is the truth about the service, whatever the
            # carrier's list of typed services says.
            Shipment.objects.filter(pk=shipment.pk).update(
                service=postage.label_service[:64]
            )
    except DomainError as error:
        postage.error = (
            f"The label is bought but the shipment could not ship: {error} "
            "Void the label or fix the problem and ship it."
        )[:500]
        postage.save(update_fields=["error", "updated_at"])
    return shipment


def shipment_postage_buy(
    *, shipment: Shipment, actor: Actor, rate_id: str = ""
) -> ShipmentPostage:
    """Buy the label of one packed shipment (its chosen rate, or `rate_id`)
    and ship it. Raises `PostageError` with EasyPost's message."""
    plan = _purchase_plan(shipment_id=shipment.pk, rate_id=rate_id)
    try:
        purchase = _purchase_call(plan)
    except DomainError as error:
        _purchase_failed(plan, error)
        if isinstance(error, AddressCheckFailed):
            error.hold(shipment_id=plan.shipment_id, actor=actor)
        raise
    _purchase_record(plan, purchase, actor)
    return ShipmentPostage.objects.get(shipment_id=shipment.pk)


def shipments_postage_buy(
    *,
    choices: Sequence[tuple[int, str]],
    actor: Actor,
    workers: int | None = None,
) -> PurchaseReport:
    """Buy labels for many packed shipments: `(shipment pk, rate id or "")`.

    Claims them all in one short transaction, buys concurrently with at most
    `workers` purchases in flight (no transaction or lock held during a
    call), records each in its own transaction. A shipment that fails is
    reported; the others go on.
    """
    report = PurchaseReport()
    plans, report.errors = _purchase_plans(choices)
    lock = threading.Lock()

    def record(plan: PurchasePlan, purchase: Purchase | None, error) -> None:
        if error is None:
            _purchase_record(plan, purchase, actor)
            with lock:
                report.bought.append(plan.number)
            return
        _purchase_failed(plan, error)
        if isinstance(error, AddressCheckFailed):
            error.hold(shipment_id=plan.shipment_id, actor=actor)
        with lock:
            report.errors.append(f"Shipment {plan.number}: {error}")

    run_bounded(plans, _purchase_call, record, workers or concurrency())
    report.bought.sort()
    return report


@app.task()
def shipments_postage_buy_task(
    choices: list[list], actor_id: int | None = None
) -> dict[str, list[str]]:
    """Buy labels in the background (the admin's Buy button)."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    report = shipments_postage_buy(
        choices=[(int(pk), str(rate or "")) for pk, rate in choices], actor=actor
    )
    return {"bought": report.bought, "errors": report.errors}
