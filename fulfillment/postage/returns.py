"""Prepaid return labels bought through EasyPost (`is_return`), for the
channels whose postage setting names a return carrier.

Approving a return records a `ReturnLabel` (to buy) in its transaction;
a worker buys it after the commit (`returns.services.labels`). Buying
reads: plan under lock (claim the label: `buying`), call EasyPost with no
transaction or lock (create the return shipment — its id is recorded
before anything is bought — then buy its cheapest rate, fetch the label
file), record under lock. A retry of a purchase whose outcome is unknown
looks the EasyPost shipment up first (the return number is its
reference), so a retry never buys twice. A refusal is kept on the label
(status failed, EasyPost's message) for a person to see and retry.

EasyPost's return shipment is given the original direction — from the
warehouse, to the customer — with `is_return`: EasyPost swaps them on the
label, so the parcel goes from the customer back to the warehouse.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import DomainError
from fulfillment.exceptions import FulfillmentError
from fulfillment.locks import lock_return_label
from fulfillment.models import Carrier
from fulfillment.models.postage import ChannelPostage, ReturnLabel
from fulfillment.postage import client
from fulfillment.postage.client import claim_lease, label_bought, label_url
from fulfillment.postage.labels import label_store
from fulfillment.postage.parcels import GRAMS_PER_OUNCE, ship_from, ship_to
from fulfillment.postage.rates import easypost_key, location_settings
from orders.models import Order

MAX_ATTEMPTS = 5


def channel_return_carrier(channel_id: int) -> Carrier | None:
    """The EasyPost carrier a channel's return labels are bought through, or
    None (our own drawn return label)."""
    setting = (
        ChannelPostage.objects.select_related("return_carrier__account")
        .filter(channel_id=channel_id, return_carrier__isnull=False)
        .first()
    )
    carrier = setting.return_carrier if setting else None
    account = getattr(carrier, "account", None) if carrier else None
    return carrier if account is not None and account.is_easypost else None


def return_label_request(
    *, order: Order, return_number: str, carrier: Carrier
) -> ReturnLabel:
    """Record a return label to buy (inside the approval's transaction);
    the same return asked again gets the same record."""
    label, _ = ReturnLabel.objects.get_or_create(
        return_number=return_number,
        defaults={
            "order": order,
            "carrier": carrier,
            "status": ReturnLabel.Status.PENDING,
        },
    )
    return label


@dataclass(frozen=True)
class ReturnPlan:
    label_id: int
    number: str
    api_key: str
    easypost_id: str
    params: dict[str, Any]


@transaction.atomic
def _return_plan(label_id: int, location_id: int | None, weight_g: int) -> ReturnPlan:
    label = lock_return_label(label_id)
    if label.status == ReturnLabel.Status.BOUGHT:
        raise FulfillmentError(
            f"The return label of {label.return_number} is bought already "
            f"({label.label_carrier} {label.tracking_code})."
        )
    now = timezone.now()
    if label.buying_since and now - label.buying_since < claim_lease():
        raise FulfillmentError(
            f"The return label of {label.return_number} is being bought right now."
        )
    api_key = easypost_key(label.carrier)
    settings = location_settings(location_id) if location_id else None
    if settings is None:
        raise FulfillmentError(
            f"Return {label.return_number}: the location its goods come back to "
            "has no postage address (Fulfilment › Location postage settings)."
        )
    params: dict[str, Any] = {
        "reference": label.return_number,
        "is_return": True,
        "from_address": ship_from(settings, settings.location),
        "to_address": ship_to(label.order),
        "parcel": {"weight": round(max(weight_g, 1) / GRAMS_PER_OUNCE, 1) or 0.1},
        "options": {"label_format": "PDF", "label_size": "4x6"},
    }
    if label.carrier.account.account_id_list:
        params["carrier_accounts"] = label.carrier.account.account_id_list
    label.status = ReturnLabel.Status.BUYING
    label.buying_since = now
    label.attempts += 1
    label.error = ""
    label.save(update_fields=["status", "buying_since", "attempts", "error"])
    return ReturnPlan(
        label_id=label.pk,
        number=label.return_number,
        api_key=api_key,
        easypost_id=label.easypost_shipment_id,
        params=params,
    )


def _cheapest(answer: dict[str, Any]) -> dict[str, Any]:
    rates = [client.plain_rate(rate) for rate in answer.get("rates") or ()]
    if not rates:
        raise client.PostageError(
            "EasyPost found no rate for the return: "
            + (client.messages_text(answer) or "no carrier answered.")
        )
    return min(
        rates, key=lambda r: client.decimal_or_none(r["rate"]) or Decimal("Infinity")
    )


def _return_call(plan: ReturnPlan) -> tuple[dict[str, Any], str]:
    """Buy (or find the earlier purchase of) the return label; no database
    here but the EasyPost shipment id, recorded as soon as it is known."""
    answer = None
    easypost_id = plan.easypost_id
    if easypost_id:
        found = client.shipment_retrieve(plan.api_key, easypost_id)
        if label_bought(found):
            answer = found
    else:
        created = client.shipment_create(plan.api_key, **plan.params)
        easypost_id = created.get("id", "")
        ReturnLabel.objects.filter(pk=plan.label_id).update(
            easypost_shipment_id=easypost_id[:64]
        )
        found = created
    if answer is None:
        rate = _cheapest(found)
        answer = client.shipment_buy(plan.api_key, easypost_id, rate["id"])
    data = client.file_download(label_url(answer))
    # Kept in the storage before the record's lock is taken.
    return answer, label_store(
        model=ReturnLabel, stem=f"return-{plan.label_id}-{easypost_id}", content=data
    )


@transaction.atomic
def _return_record(
    plan: ReturnPlan, answer: dict[str, Any], label_name: str
) -> ReturnLabel:
    label = lock_return_label(plan.label_id)
    if label.status == ReturnLabel.Status.BOUGHT:
        return label
    rate = answer.get("selected_rate") or {}
    label.status = ReturnLabel.Status.BOUGHT
    label.buying_since = None
    label.easypost_shipment_id = answer.get("id", label.easypost_shipment_id)[:64]
    label.tracking_code = (answer.get("tracking_code") or "")[:64]
    label.label_carrier = (rate.get("carrier") or "")[:64]
    label.label_service = (rate.get("service") or "")[:64]
    label.cost = client.decimal_or_none(rate.get("rate"))
    label.currency = (rate.get("currency") or "")[:3]
    label.label_file = label_name
    label.bought_at = timezone.now()
    label.error = ""
    label.save()
    return label


@transaction.atomic
def _return_failed(plan: ReturnPlan, error: DomainError) -> ReturnLabel:
    """Keep the message. Unknown outcome (timeout): left to be looked up and
    retried by the sweep; a refusal (or too many tries): failed, for a person."""
    label = lock_return_label(plan.label_id)
    if label.status != ReturnLabel.Status.BUYING:
        return label
    label.error = str(error)[:500]
    label.buying_since = None
    unknown = isinstance(error, client.PostageUnavailable)
    if not unknown or label.attempts >= MAX_ATTEMPTS:
        label.status = ReturnLabel.Status.FAILED
    elif not label.easypost_shipment_id:
        label.status = ReturnLabel.Status.PENDING  # nothing was bought: start again
    label.save(update_fields=["status", "buying_since", "error"])
    return label


def return_label_buy(
    *, label_id: int, location_id: int | None, weight_g: int
) -> ReturnLabel:
    """Buy a recorded return label through EasyPost: from the customer back
    to `location_id`, a parcel of `weight_g`. Returns the label (bought, or
    with its error); raises `FulfillmentError` when it may not be bought now."""
    plan = _return_plan(label_id, location_id, weight_g)
    try:
        answer, label_name = _return_call(plan)
    except DomainError as error:
        return _return_failed(plan, error)
    return _return_record(plan, answer, label_name)


def return_label_retry(*, label_id: int) -> ReturnLabel:
    """Make a failed return label buyable again (the admin's Buy again)."""
    updated = ReturnLabel.objects.filter(
        pk=label_id, status=ReturnLabel.Status.FAILED
    ).update(status=ReturnLabel.Status.PENDING, attempts=0)
    label = ReturnLabel.objects.get(pk=label_id)
    if not updated and label.status != ReturnLabel.Status.PENDING:
        raise FulfillmentError(
            f"The return label of {label.return_number} is "
            f"{label.get_status_display().lower()}; only a failed one is bought again."
        )
    return label
