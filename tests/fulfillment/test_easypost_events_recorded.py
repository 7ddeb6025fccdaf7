"""EasyPost's own webhook Event and tracker answers, posted to the carrier
endpoint as EasyPost sends them (signed body, byte for byte).

`event_tracker_updated.json` is the `tracker.updated` Event EasyPost's client
libraries test their webhook handling with; `tracker_create.json` a tracker
EasyPost's test API answered, every scan of it pre-transit.
"""

import copy
import hashlib
import hmac
import json
from datetime import date

import pytest
from django.urls import reverse

from fulfillment.models import Shipment, ShipmentStatus, TrackingEvent
from orders.models import OrderEvent
from tests.factories import CarrierFactory
from tests.support.easypost_replay import event_body, recorded

pytestmark = pytest.mark.django_db

SECRET = "whsec-recorded"


@pytest.fixture
def easypost(db):
    return CarrierFactory(
        code="easypost", name="EasyPost", webhook_token=SECRET, aggregator=True
    )


@pytest.fixture
def parcel(shipped, product, easypost):
    """A shipped shipment through EasyPost, tracking number set by the test."""

    def make(tracking_number: str) -> Shipment:
        shipment = Shipment.objects.get(order=shipped([(product, 1)]))
        Shipment.objects.filter(pk=shipment.pk).update(
            carrier=easypost, tracking_number=tracking_number
        )
        return Shipment.objects.get(pk=shipment.pk)

    return make


def post_signed(client, raw: bytes):
    """POST a body as EasyPost does: HMAC-SHA256 of the bytes, hex."""
    digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return client.post(
        reverse("fulfillment:carrier_tracking", args=["easypost"]),
        data=raw,
        content_type="application/json",
        HTTP_X_HMAC_SIGNATURE=f"hmac-sha256-hex={digest}",
    )


def tracker_event(tracker: dict, description: str = "tracker.created") -> bytes:
    """EasyPost's Event envelope around a recorded Tracker answer."""
    return json.dumps(
        {"object": "Event", "description": description, "result": tracker}
    ).encode()


# ---- tracker.updated: event_tracker_updated.json


def test_recorded_tracker_updated_event_moves_the_shipment(client, parcel):
    shipment = parcel("1")

    response = post_signed(client, event_body("event_tracker_updated"))

    assert response.status_code == 200
    # Seven scans: the label being created (pre-transit) says nothing we track.
    assert response.json() == {"recorded": 6, "duplicates": 0, "ignored": 1}
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.IN_TRANSIT
    assert shipment.estimated_delivery == date(2024, 8, 5)
    events = list(shipment.tracking_events.order_by("occurred_at"))
    assert [(e.status, e.place, e.description) for e in events[:1]] == [
        ("in_transit", "ORLANDO, FL 32809, US", "Picked up")
    ]
    newest = events[-1]
    assert (newest.place, newest.description, newest.source) == (
        "EDISON, NJ 08817, US",
        "Arrived at FedEx location",
        TrackingEvent.Source.EASYPOST,
    )
    assert newest.estimated_delivery == date(2024, 8, 5)
    assert OrderEvent.objects.filter(
        order=shipment.order, message__contains="Arrived at FedEx location"
    ).exists()


def test_recorded_event_sent_twice_records_nothing_new(client, parcel):
    parcel("1")
    post_signed(client, event_body("event_tracker_updated"))

    again = post_signed(client, event_body("event_tracker_updated"))

    assert again.status_code == 200
    assert again.json() == {"recorded": 0, "duplicates": 6, "ignored": 1}
    assert TrackingEvent.objects.count() == 6


def test_recorded_event_with_a_delivery_scan_delivers_the_order(client, parcel):
    shipment = parcel("1")
    # The recorded Event, as it reads once the parcel arrives.
    body = json.loads(event_body("event_tracker_updated"))
    body["result"]["status"] = "delivered"
    body["result"]["tracking_details"].append(
        {
            **body["result"]["tracking_details"][-1],
            "message": "Delivered",
            "description": "Delivered",
            "status": "delivered",
            "status_detail": "arrived_at_destination",
            "datetime": "2024-08-05T14:10:00Z",
        }
    )

    response = post_signed(client, json.dumps(body).encode())

    assert response.json()["recorded"] == 7
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DELIVERED
    assert shipment.order.status == "delivered"


# ---- unknown tracking numbers: one clear 404, whatever the scans


def test_recorded_event_of_an_unknown_number_is_one_404(client, easypost):
    response = post_signed(client, event_body("event_tracker_updated"))

    assert response.status_code == 404
    assert response.json() == {
        "error": "Unknown tracking number.",
        "errors": ["no shipment has tracking number '1' (6 updates)."],
    }
    assert not TrackingEvent.objects.exists()


def test_recorded_pre_transit_tracker_of_an_unknown_number_is_the_same_404(
    client, easypost
):
    [answer] = recorded("tracker_create")
    tracker = answer.body
    assert {d["status"] for d in tracker["tracking_details"]} == {"pre_transit"}

    response = post_signed(client, tracker_event(tracker))

    assert response.status_code == 404
    assert response.json() == {
        "error": "Unknown tracking number.",
        "errors": ["no shipment has tracking number 'EZ1000000001'."],
    }


def test_recorded_pre_transit_tracker_of_a_known_number_is_acknowledged(client, parcel):
    shipment = parcel("EZ1000000001")
    [answer] = recorded("tracker_create")

    response = post_signed(client, tracker_event(answer.body))

    assert response.status_code == 200
    assert response.json() == {"recorded": 0, "duplicates": 0, "ignored": 2}
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.SHIPPED


def test_unknown_number_with_one_scan_or_many_is_one_error(client, easypost):
    body = json.loads(event_body("event_tracker_updated"))
    one_scan = copy.deepcopy(body)
    one_scan["result"]["tracking_details"] = body["result"]["tracking_details"][:2]

    answers = [
        post_signed(client, json.dumps(b).encode()).json() for b in (one_scan, body)
    ]

    assert [a["errors"] for a in answers] == [
        ["no shipment has tracking number '1'."],
        ["no shipment has tracking number '1' (6 updates)."],
    ]
