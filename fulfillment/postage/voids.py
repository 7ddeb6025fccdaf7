"""Voiding a bought label (EasyPost refund) until the shipment is handed
over, and following the refund until EasyPost decides.

*Handed over* means the carrier has the parcel: a carrier scan came back
for the shipment (any tracking event: EasyPost's `pre_transit`, the label
being created, is not one), the shipment moved past *shipped*, or it is on
an end-of-day scan form (the form is the hand-over document). Until then
the label may be voided: EasyPost is asked for a refund and the shipment
goes back to *packed* through the exact reverse of shipping
(`fulfillment.services.shipping.shipment_unship_locked`).

Like buying, a void reads: plan under lock (claim the postage, `voiding`),
call EasyPost with no transaction or lock, record under lock. A call that
timed out leaves the postage `voiding`; the next attempt looks the EasyPost
shipment up first and takes a refund already asked for.

A scan that lands while EasyPost is asked (the record finds the shipment
moving) or after the void (its voided tracking number is kept on the
shipment) warns on the shipment, its timeline and the dashboard
(`fulfillment.label_warnings`): the parcel travels on a refunded label.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import ngettext

from core.exceptions import DomainError
from core.tasks import app
from core.users import Actor
from fulfillment.exceptions import FulfillmentError
from fulfillment.handover import shipment_unship_locked
from fulfillment.label_warnings import label_warning_record, label_warning_text
from fulfillment.locks import lock_postage, lock_postage_if_any, lock_shipment
from fulfillment.models import Shipment, ShipmentStatus, TrackingEvent
from fulfillment.models.postage import ScanForm, ShipmentPostage
from fulfillment.postage import client
from fulfillment.postage.client import claim_lease
from fulfillment.postage.rates import easypost_key
from orders import events as order_events
from orders.locks import lock_order


def scan_form_text(form: ScanForm) -> str:
    """Name an end-of-day scan form as its list shows it."""
    carrier = form.label_carrier or form.carrier.name
    return (
        f"end-of-day scan form #{form.pk} ({form.location.code}, {carrier}, "
        f"{form.day:%Y-%m-%d})"
    )


def void_refused_on_scan_form(*, number: str, form: ScanForm) -> str:
    """Say that a label on a scan form cannot be voided, naming both."""
    return (
        f"Shipment {number} is on the {scan_form_text(form)}: the carrier takes "
        "it with that form, so its label can no longer be voided."
    )


def handed_over(shipment: Shipment, postage: ShipmentPostage) -> str:
    """Say why the carrier has the shipment already, or "" when it has not."""
    if shipment.status not in (ShipmentStatus.SHIPPED, ShipmentStatus.PACKED):
        return f"it is {shipment.get_status_display().lower()}"
    if postage.scan_form_id:
        return f"it is on the {scan_form_text(postage.scan_form)}"
    if TrackingEvent.objects.filter(shipment_id=shipment.pk).exists():
        return "the carrier has scanned it"
    return ""


@dataclass(frozen=True)
class VoidPlan:
    shipment_id: int
    number: str
    api_key: str
    easypost_id: str
    look_up_first: bool


@transaction.atomic
def _void_plan(shipment_id: int) -> VoidPlan:
    order_id = Shipment.objects.values_list("order_id", flat=True).get(pk=shipment_id)
    lock_order(order_id)
    shipment = lock_shipment(shipment_id)
    postage = lock_postage_if_any(shipment_id)
    if postage is None or postage.status not in (
        ShipmentPostage.Status.BOUGHT,
        ShipmentPostage.Status.VOIDING,
    ):
        raise FulfillmentError(
            f"Shipment {shipment.number} has no bought label to void."
        )
    now = timezone.now()
    if postage.voiding_since and now - postage.voiding_since < claim_lease():
        raise FulfillmentError(
            f"The label of shipment {shipment.number} is being voided right now; "
            "wait a minute and look again."
        )
    why = handed_over(shipment, postage)
    if why:
        raise FulfillmentError(
            f"Shipment {shipment.number} is handed over ({why}); its label can "
            "no longer be voided."
        )
    api_key = easypost_key(postage.carrier)
    look_up_first = postage.status == ShipmentPostage.Status.VOIDING
    postage.status = ShipmentPostage.Status.VOIDING
    postage.voiding_since = now
    postage.error = ""
    postage.save(update_fields=["status", "voiding_since", "error", "updated_at"])
    return VoidPlan(
        shipment_id=shipment_id,
        number=shipment.number,
        api_key=api_key,
        easypost_id=postage.easypost_shipment_id,
        look_up_first=look_up_first,
    )


def _void_call(plan: VoidPlan) -> dict[str, Any]:
    """Ask EasyPost for the refund (or find the one asked for before)."""
    if plan.look_up_first:
        found = client.shipment_retrieve(plan.api_key, plan.easypost_id)
        if found.get("refund_status") in (
            ShipmentPostage.Refund.SUBMITTED,
            ShipmentPostage.Refund.REFUNDED,
        ):
            return found
    return client.shipment_refund(plan.api_key, plan.easypost_id)


def _label_text(postage: ShipmentPostage) -> str:
    return f"{postage.label_carrier} {postage.tracking_code}".strip()


@transaction.atomic
def _void_failed(plan: VoidPlan, error: DomainError, actor: Actor) -> None:
    """Keep EasyPost's message; a refusal leaves the label bought, a timeout
    leaves the void to be looked up before asking again."""
    order_id = Shipment.objects.values_list("order_id", flat=True).get(
        pk=plan.shipment_id
    )
    order = lock_order(order_id)
    postage = lock_postage(plan.shipment_id)
    if postage.status != ShipmentPostage.Status.VOIDING:
        return
    postage.error = str(error)[:500]
    postage.voiding_since = None
    if not isinstance(error, client.PostageUnavailable):
        postage.status = ShipmentPostage.Status.BOUGHT
        order_events.order_event_fulfillment(
            order=order,
            actor=actor,
            message=f"Void of the label of shipment {plan.number} "
            f"({_label_text(postage)}) refused: {error}",
            data={"shipment": plan.number, "postage": "void_refused"},
        )
    postage.save(update_fields=["error", "voiding_since", "status", "updated_at"])


@transaction.atomic
def _void_record(plan: VoidPlan, answer: dict[str, Any], actor: Actor) -> None:
    order_id = Shipment.objects.values_list("order_id", flat=True).get(
        pk=plan.shipment_id
    )
    order = lock_order(order_id)
    shipment = lock_shipment(plan.shipment_id)
    postage = lock_postage(plan.shipment_id)
    if postage.status != ShipmentPostage.Status.VOIDING:
        return
    refund = answer.get("refund_status") or ShipmentPostage.Refund.SUBMITTED
    if refund not in ShipmentPostage.Refund.values:
        refund = ShipmentPostage.Refund.SUBMITTED
    postage.voiding_since = None
    postage.refund_status = refund
    if refund == ShipmentPostage.Refund.REJECTED:
        postage.status = ShipmentPostage.Status.BOUGHT
        postage.error = "EasyPost rejected the refund; the label stays valid."
        postage.save()
        order_events.order_event_fulfillment(
            order=order,
            actor=actor,
            message=f"Void of the label of shipment {shipment.number} "
            f"({_label_text(postage)}) refused: EasyPost rejected the refund.",
            data={"shipment": shipment.number, "postage": "void_refused"},
        )
        return
    postage.status = ShipmentPostage.Status.VOIDED
    postage.voided_at = timezone.now()
    postage.error = ""
    why = handed_over(shipment, postage)
    if why:
        # A scan arrived while EasyPost was asked (or the shipment moved on):
        # the parcel is with the carrier although its label is void. The
        # shipment stays where the carrier has it; a person must call.
        scanned = (
            shipment.tracking_events.order_by("-occurred_at", "-pk")
            .values_list("occurred_at", flat=True)
            .first()
        )
        warning = label_warning_text(
            label=_label_text(postage),
            scanned_at=scanned,
            status_text=shipment.get_status_display().lower(),
        )
        postage.error = warning[:500]
        label_warning_record(
            order=order, shipment=shipment, warning=warning, actor=actor
        )
    postage.save()
    order_events.order_event_fulfillment(
        order=order,
        actor=actor,
        message=f"Label of shipment {shipment.number} voided "
        f"({_label_text(postage)}, {postage.cost} {postage.currency}); refund "
        f"{postage.get_refund_status_display().lower()}.",
        data={
            "shipment": shipment.number,
            "postage": "voided",
            "tracking": postage.tracking_code,
            "refund_status": refund,
            "easypost_shipment": postage.easypost_shipment_id,
        },
    )
    if shipment.status == ShipmentStatus.SHIPPED and not why:
        # A scan of this label after the void still finds the shipment.
        shipment.voided_tracking_number = postage.tracking_code
        shipment.save(update_fields=["voided_tracking_number", "updated_at"])
        shipment_unship_locked(
            order=order, shipment=shipment, actor=actor, why="label voided"
        )


def shipment_postage_void(*, shipment: Shipment, actor: Actor) -> ShipmentPostage:
    """Void the bought label of a shipment not yet handed over: EasyPost is
    asked for the refund, the shipment goes back to packed (stock, order
    lines and order status reversed) and the timeline says so. Raises
    `PostageError` with EasyPost's message when it refuses."""
    plan = _void_plan(shipment.pk)
    try:
        answer = _void_call(plan)
    except DomainError as error:
        _void_failed(plan, error, actor)
        raise
    _void_record(plan, answer, actor)
    return ShipmentPostage.objects.get(shipment_id=shipment.pk)


@app.task()
def shipment_postage_void_task(shipment_id: int, actor_id: int | None = None) -> str:
    """Void a label in the background (the admin's Void action)."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    shipment = Shipment.objects.get(pk=shipment_id)
    try:
        postage = shipment_postage_void(shipment=shipment, actor=actor)
    except DomainError as error:
        return str(error)
    return f"{shipment.number}: voided, refund {postage.refund_status}"


# ---- the refund, followed until EasyPost decides


@transaction.atomic
def postage_refund_record(
    *, easypost_shipment_id: str, refund_status: str, actor: Actor = None
) -> bool:
    """Record EasyPost's refund status of a voided label (refunded or
    rejected) on the postage and the timeline; return whether it changed."""
    if refund_status not in (
        ShipmentPostage.Refund.REFUNDED,
        ShipmentPostage.Refund.REJECTED,
        ShipmentPostage.Refund.NOT_APPLICABLE,
    ):
        return False
    found = (
        ShipmentPostage.objects.filter(
            easypost_shipment_id=easypost_shipment_id,
            status=ShipmentPostage.Status.VOIDED,
        )
        .values_list("shipment_id", "shipment__order_id")
        .first()
    )
    if found is None:
        return False
    shipment_id, order_id = found
    order = lock_order(order_id)
    postage = lock_postage(shipment_id)
    if (
        postage.status != ShipmentPostage.Status.VOIDED
        or postage.refund_status == refund_status
    ):
        return False
    postage.refund_status = refund_status
    postage.save(update_fields=["refund_status", "updated_at"])
    number = Shipment.objects.values_list("number", flat=True).get(pk=shipment_id)
    order_events.order_event_fulfillment(
        order=order,
        actor=actor,
        message=f"Refund of the voided label of shipment {number} "
        f"({_label_text(postage)}): {postage.get_refund_status_display().lower()}.",
        data={"shipment": number, "postage": "refund", "refund_status": refund_status},
    )
    return True


def postage_refunds_refresh(*, limit: int = 200) -> tuple[int, list[str]]:
    """Look up the refunds still *submitted* at EasyPost (oldest first, at
    most `limit`) and record the decided ones; return how many changed and
    the problems. No transaction is held while EasyPost is asked."""
    pending = list(
        ShipmentPostage.objects.filter(
            status=ShipmentPostage.Status.VOIDED,
            refund_status=ShipmentPostage.Refund.SUBMITTED,
        )
        .exclude(easypost_shipment_id="")
        .select_related("carrier__account")
        .order_by("voided_at", "pk")[:limit]
    )
    changed, problems = 0, []
    for postage in pending:
        try:
            answer = client.shipment_retrieve(
                easypost_key(postage.carrier), postage.easypost_shipment_id
            )
        except DomainError as error:
            problems.append(f"{postage.easypost_shipment_id}: {error}")
            continue
        changed += postage_refund_record(
            easypost_shipment_id=postage.easypost_shipment_id,
            refund_status=answer.get("refund_status") or "",
        )
    return changed, problems


@app.periodic(cron="*/15 * * * *", periodic_id="postage-refunds")
@app.task(queueing_lock="postage-refunds")
def postage_refunds_refresh_task(timestamp: int = 0) -> str:
    """Scheduled: follow the refunds of voided labels."""
    changed, problems = postage_refunds_refresh()
    decided = ngettext(
        "%(count)d refund decided", "%(count)d refunds decided", changed
    ) % {"count": changed}
    if not problems:
        return decided
    return (
        decided
        + "; "
        + ngettext("%(count)d problem", "%(count)d problems", len(problems))
        % {"count": len(problems)}
        + ": "
        + " ".join(problems[:5])
    )
