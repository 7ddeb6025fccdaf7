"""Voiding bought labels: the EasyPost refund, the exact reverse of
shipping, handed-over shipments refused, timeouts, refund follow-up."""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from fulfillment.exceptions import FulfillmentError
from fulfillment.models import ShipmentStatus, TrackingEvent
from fulfillment.models.postage import ShipmentPostage
from fulfillment.postage import client
from fulfillment.postage.buying import shipment_postage_buy
from fulfillment.postage.rates import shipment_rates_fetch
from fulfillment.postage.voids import (
    postage_refund_record,
    postage_refunds_refresh,
    shipment_postage_void,
)
from inventory.models import Allocation, StockLevel, StockMovement
from orders.models import EmailKind, OrderEvent, OrderStatus
from tests.support.emails import customer_emails


def _state(shipment, product):
    """Everything shipping changes, for comparing before and after."""
    level = StockLevel.objects.get(product=product, location=shipment.location)
    line = shipment.order.lines.get()
    line.refresh_from_db()
    shipment.order.refresh_from_db()
    return {
        "on_hand": level.on_hand,
        "allocated": level.allocated,
        "reserved": list(
            Allocation.objects.filter(order_line=line).values_list(
                "stock_level_id", "quantity"
            )
        ),
        "shipped": line.quantity_shipped,
        "order": shipment.order.status,
        "ledger": StockMovement.objects.filter(
            product=product, location=shipment.location
        ).aggregate(total=Sum("delta"))["total"],
    }


def _bought(packed, user):
    [shipment] = packed(1)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=postage.rates[0]["id"])
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.SHIPPED
    return shipment


def test_void_refunds_and_reverses_shipping_exactly(packed, easypost, user, product):
    [shipment] = packed(1)
    before = _state(shipment, product)
    assert before["order"] == OrderStatus.PACKED and before["reserved"]
    postage = ShipmentPostage.objects.get(shipment=shipment)
    shipment_postage_buy(shipment=shipment, actor=user, rate_id=postage.rates[0]["id"])
    shipped = _state(shipment, product)
    assert shipped["on_hand"] == before["on_hand"] - 1 and shipped["reserved"] == []
    assert shipped["order"] == OrderStatus.SHIPPED

    postage = shipment_postage_void(shipment=shipment, actor=user)

    assert postage.status == ShipmentPostage.Status.VOIDED
    assert postage.refund_status == ShipmentPostage.Refund.SUBMITTED
    assert postage.voided_at is not None
    assert easypost.refunds == {postage.easypost_shipment_id: 1}
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.PACKED
    assert (shipment.carrier, shipment.tracking_number, shipment.shipped_at) == (
        None,
        "",
        None,
    )
    after = _state(shipment, product)
    assert after == before
    assert after["ledger"] == after["on_hand"]
    assert StockMovement.objects.filter(
        reference=shipment.number, delta=1, note="label voided"
    ).exists()
    messages = list(
        OrderEvent.objects.filter(order=shipment.order).values_list(
            "message", flat=True
        )
    )
    assert any("voided" in m and "refund submitted" in m for m in messages)
    assert any("did not leave" in m for m in messages)


def test_void_refused_once_the_carrier_scanned_it(packed, easypost, user):
    shipment = _bought(packed, user)
    TrackingEvent.objects.create(
        shipment=shipment,
        status=TrackingEvent.Status.IN_TRANSIT,
        occurred_at=timezone.now() - timedelta(minutes=5),
    )
    with pytest.raises(FulfillmentError, match="handed over.*scanned"):
        shipment_postage_void(shipment=shipment, actor=user)
    assert easypost.refunds == {}
    assert (
        ShipmentPostage.objects.get(shipment=shipment).status
        == ShipmentPostage.Status.BOUGHT
    )


def test_void_refused_when_on_a_scan_form(packed, easypost, user, location):
    from fulfillment.models.postage import ScanForm

    shipment = _bought(packed, user)
    form = ScanForm.objects.create(
        location=location,
        carrier=ShipmentPostage.objects.get(shipment=shipment).carrier,
        day=timezone.localdate(),
    )
    ShipmentPostage.objects.filter(shipment=shipment).update(scan_form=form)
    with pytest.raises(FulfillmentError, match="scan form"):
        shipment_postage_void(shipment=shipment, actor=user)
    assert easypost.refunds == {}


def test_refund_rejected_keeps_label_and_shipment(packed, easypost, user):
    shipment = _bought(packed, user)
    easypost.refund_status = "rejected"
    postage = shipment_postage_void(shipment=shipment, actor=user)
    shipment.refresh_from_db()
    assert postage.status == ShipmentPostage.Status.BOUGHT
    assert postage.refund_status == ShipmentPostage.Refund.REJECTED
    assert "rejected" in postage.error
    assert shipment.status == ShipmentStatus.SHIPPED
    assert OrderEvent.objects.filter(
        order=shipment.order, message__contains="rejected the refund"
    ).exists()


def test_void_timeout_then_retry_asks_for_one_refund(
    packed, easypost, user, settings, product
):
    shipment = _bought(packed, user)
    settings.OMS_EASYPOST_TIMEOUT = 1
    easypost.refund_delay = 1.5
    with pytest.raises(client.PostageUnavailable):
        shipment_postage_void(shipment=shipment, actor=user)
    postage = ShipmentPostage.objects.get(shipment=shipment)
    shipment.refresh_from_db()
    assert postage.status == ShipmentPostage.Status.VOIDING
    assert shipment.status == ShipmentStatus.SHIPPED
    easypost.refund_delay = 0
    postage = shipment_postage_void(shipment=shipment, actor=user)
    shipment.refresh_from_db()
    assert postage.status == ShipmentPostage.Status.VOIDED
    assert easypost.refunds == {postage.easypost_shipment_id: 1}
    assert shipment.status == ShipmentStatus.PACKED
    assert StockMovement.objects.filter(reference=shipment.number).count() == 2


def test_void_twice_refused(packed, easypost, user):
    shipment = _bought(packed, user)
    shipment_postage_void(shipment=shipment, actor=user)
    with pytest.raises(FulfillmentError, match="no bought label"):
        shipment_postage_void(shipment=shipment, actor=user)
    assert sum(easypost.refunds.values()) == 1


def test_refund_status_followed_by_scheduled_work(packed, easypost, user):
    shipment = _bought(packed, user)
    postage = shipment_postage_void(shipment=shipment, actor=user)
    assert postage_refunds_refresh() == (0, [])
    easypost.shipments[postage.easypost_shipment_id]["refund_status"] = "refunded"
    assert postage_refunds_refresh() == (1, [])
    postage.refresh_from_db()
    assert postage.refund_status == ShipmentPostage.Refund.REFUNDED
    assert OrderEvent.objects.filter(
        order=shipment.order, message__contains="refunded"
    ).exists()
    # The same news again (a webhook after the sweep) changes nothing.
    assert not postage_refund_record(
        easypost_shipment_id=postage.easypost_shipment_id, refund_status="refunded"
    )


def test_voided_shipment_gets_new_rates_and_a_new_label(packed, easypost, user):
    shipment = _bought(packed, user)
    first = shipment_postage_void(shipment=shipment, actor=user)
    postage = shipment_rates_fetch(shipment_id=shipment.pk)
    assert postage.status == ShipmentPostage.Status.RATED
    assert postage.reference == f"{shipment.number}-2"
    assert postage.easypost_shipment_id != first.easypost_shipment_id
    postage = shipment_postage_buy(
        shipment=shipment, actor=user, rate_id=postage.rates[0]["id"]
    )
    shipment.refresh_from_db()
    assert postage.purchases == 2
    assert postage.refund_status == "" and postage.voided_at is None
    assert shipment.status == ShipmentStatus.SHIPPED
    assert shipment.tracking_number == postage.tracking_code != first.tracking_code
    assert shipment.order.status == OrderStatus.SHIPPED
    # The customer hears of the new tracking number (and of the old one once).
    mailed = customer_emails(EmailKind.SHIPPED, order=shipment.order)
    assert sorted(m.payload["tracking_number"] for m in mailed) == sorted(
        [first.tracking_code, postage.tracking_code]
    )


def test_refund_status_from_the_easypost_webhook(
    packed, easypost, user, client, easypost_carrier
):
    import json

    from django.urls import reverse

    shipment = _bought(packed, user)
    postage = shipment_postage_void(shipment=shipment, actor=user)
    easypost_carrier.webhook_token = "hook-secret"
    easypost_carrier.save(update_fields=["webhook_token"])
    event = {
        "object": "Event",
        "description": "refund.successful",
        "result": {
            "object": "Refund",
            "shipment_id": postage.easypost_shipment_id,
            "tracking_code": postage.tracking_code,
            "status": "refunded",
        },
    }
    url = reverse("fulfillment:carrier_tracking", args=[easypost_carrier.code])
    answers = [
        client.post(
            url,
            json.dumps(event),
            content_type="application/json",
            HTTP_AUTHORIZATION="Bearer hook-secret",
        ).json()
        for _ in range(2)
    ]
    assert [a["recorded"] for a in answers] == [1, 0]
    postage.refresh_from_db()
    assert postage.refund_status == ShipmentPostage.Refund.REFUNDED
