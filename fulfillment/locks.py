"""Row locks of the fulfillment app, always in primary-key order.

Callers lock in the global order (docs/architecture.md, "Lock order"): the
order (orders.locks), then its shipments, then their postage, then the
pick list they are on, then stock (inventory.locks); scan forms and return
labels alone. The same order everywhere, so no two transactions wait on
each other.

Optimistic locking meets the row lock here too: a page that acts on
shipments passes the versions it showed, and `refuse_changed` compares them
with the locked rows.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from django.db.models import QuerySet

from fulfillment.exceptions import ShipmentChangedError
from fulfillment.models import (
    Carrier,
    PickList,
    ReturnLabel,
    ScanForm,
    Shipment,
    ShipmentPostage,
    ShipmentStatus,
)
from inventory.models import Location
from orders.locks import lock_order, lock_orders
from orders.models import Order


def _locked_shipments() -> QuerySet[Shipment]:
    return Shipment.objects.select_for_update(of=("self",)).select_related(
        "order", "location", "carrier"
    )


def lock_shipment(pk: int) -> Shipment:
    """Lock one shipment for the rest of the transaction and return it fresh."""
    return _locked_shipments().order_by("pk").get(pk=pk)


def lock_shipments(pks: Iterable[int]) -> dict[int, Shipment]:
    """Lock shipments in pk order and return them fresh, by pk."""
    return {
        shipment.pk: shipment
        for shipment in _locked_shipments().filter(pk__in=set(pks)).order_by("pk")
    }


def lock_pick_lists(pks: Iterable[int]) -> list[PickList]:
    """Lock pick lists in pk order and return them."""
    return list(
        PickList.objects.select_for_update(of=("self",))
        .filter(pk__in=set(pks))
        .order_by("pk")
    )


def lock_pick_list_work(
    pick_list_id: int, *, orders: bool
) -> tuple[PickList | None, dict[int, Shipment]]:
    """Lock what work on a pick list writes, in the global order: the orders
    of its shipments being picked (when the work changes them), those
    shipments, then the list (read with its location). Return the list (None
    when it is gone) and its locked shipments by pk.

    A scan locks the shipments too, though it only records: its record
    points at a shipment, and the foreign key's check takes a share lock on
    that shipment — under the list's lock, the wrong way round against a
    confirmation or a pack holding the shipment and waiting for the list. A
    shipment put on the list after they were read is not among them: work on
    the list leaves it for the next request."""
    picking = _locked_shipments().filter(
        pick_list_id=pick_list_id, status=ShipmentStatus.PICKING
    )
    if orders:
        order_ids = Shipment.objects.filter(
            pick_list_id=pick_list_id, status=ShipmentStatus.PICKING
        ).values_list("order_id", flat=True)
        locked = lock_orders(sorted(set(order_ids)))
        picking = picking.filter(order_id__in=[order.pk for order in locked])
    shipments = {shipment.pk: shipment for shipment in picking.order_by("pk")}
    pick_list = (
        PickList.objects.select_for_update(of=("self",))
        .select_related("location")
        .filter(pk=pick_list_id)
        .order_by("pk")
        .first()
    )
    return pick_list, shipments


def refuse_changed(
    shipments: Iterable[Shipment], expected_versions: Mapping[int, int | None]
) -> None:
    """Refuse when a locked shipment moved past the version a page showed."""
    changed = [
        shipment.number
        for shipment in shipments
        if expected_versions.get(shipment.pk) is not None
        and expected_versions[shipment.pk] != shipment.version
    ]
    if changed:
        raise ShipmentChangedError(changed)


def lock_shipments_unchanged(
    pks: Iterable[int], expected_versions: Mapping[int, int]
) -> tuple[dict[int, Order], dict[int, Shipment]]:
    """Lock the orders, then the shipments of a batch (and those the page
    showed); refuse when any of them changed since the page was opened."""
    pks = {*pks, *expected_versions}
    order_ids = set(
        Shipment.objects.filter(pk__in=pks).values_list("order_id", flat=True)
    )
    orders = {order.pk: order for order in lock_orders(sorted(order_ids))}
    shipments = lock_shipments(pks)
    refuse_changed(shipments.values(), expected_versions)
    return orders, shipments


def lock_order_shipments(
    order_id: int, statuses: Sequence[str]
) -> tuple[Order, list[Shipment]]:
    """Lock an order, then its shipments in these statuses (by number)."""
    order = lock_order(order_id)
    pks = order.shipments.filter(status__in=statuses).values_list("pk", flat=True)
    shipments = sorted(lock_shipments(pks).values(), key=lambda s: s.number)
    return order, shipments


def lock_shipment_at_station(pk: int) -> Shipment:
    """Lock one shipment with its pack station claim (and the claim's user)
    read in the same query: the pack station's scans answer in few queries."""
    return (
        _locked_shipments().select_related("pack_claim__user").order_by("pk").get(pk=pk)
    )


# ---- postage: after the order and its shipment


def _locked_postage() -> QuerySet[ShipmentPostage]:
    return ShipmentPostage.objects.select_for_update(of=("self",)).select_related(
        "carrier__account"
    )


def lock_postage(shipment_id: int) -> ShipmentPostage:
    """Lock a shipment's postage row (after its order and shipment)."""
    return _locked_postage().order_by("pk").get(shipment_id=shipment_id)


def lock_postage_if_any(shipment_id: int) -> ShipmentPostage | None:
    """Lock a shipment's postage row, or return None when it has none."""
    return _locked_postage().filter(shipment_id=shipment_id).order_by("pk").first()


def lock_postages(shipment_ids: Iterable[int]) -> dict[int, ShipmentPostage]:
    """Lock the postage of shipments (after the shipments) in pk order, by
    shipment pk."""
    return {
        postage.shipment_id: postage
        for postage in _locked_postage()
        .filter(shipment_id__in=set(shipment_ids))
        .order_by("pk")
    }


def lock_postages_for_scan_form(
    *,
    carrier: Carrier,
    location: Location,
    bought_between: tuple[datetime, datetime],
) -> list[ShipmentPostage]:
    """Lock the labels a location bought through a carrier in a time range,
    shipped and not voided, that a scan form may take (with their form)."""
    return list(
        ShipmentPostage.objects.select_for_update(of=("self",))
        .filter(
            carrier=carrier,
            shipment__location=location,
            status=ShipmentPostage.Status.BOUGHT,
            shipment__status=ShipmentStatus.SHIPPED,
            bought_at__range=bought_between,
        )
        .exclude(easypost_shipment_id="")
        .select_related("scan_form")
        .order_by("pk")
    )


def lock_scan_form(pk: int) -> ScanForm:
    """Lock one end-of-day scan form (held alone: no shipment is locked)."""
    return ScanForm.objects.select_for_update(of=("self",)).order_by("pk").get(pk=pk)


def lock_return_label(pk: int) -> ReturnLabel:
    """Lock one prepaid return label (held alone: no order is locked)."""
    return (
        ReturnLabel.objects.select_for_update(of=("self",))
        .select_related("carrier__account", "order__customer")
        .order_by("pk")
        .get(pk=pk)
    )
