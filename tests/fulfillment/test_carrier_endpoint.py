"""The carrier endpoint: good updates, bad tokens, bad bodies, EasyPost."""

import base64
import hashlib
import hmac
import json

import pytest
from django.urls import reverse

from fulfillment.models import Shipment, TrackingEvent
from orders.models import OrderStatus
from tests.factories import CarrierFactory

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-token"


@pytest.fixture
def parcel(shipped, product, carrier):
    carrier.webhook_token = TOKEN
    carrier.save()
    return Shipment.objects.get(order=shipped([(product, 1)]))


def post(client, body, *, code="pex", token=TOKEN, **headers):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(
        reverse("fulfillment:carrier_tracking", args=[code]),
        data=data,
        content_type="application/json",
        **headers,
    )


def event(parcel, **fields):
    return {
        "tracking_number": parcel.tracking_number,
        "status": "in_transit",
        "occurred_at": "2026-03-02T09:00:00Z",
        "place": "Reno, NV",
        "description": "Departed facility",
        "estimated_delivery": "2026-03-05",
        **fields,
    }


def test_events_are_recorded_and_move_the_shipment(client, parcel):
    response = post(
        client,
        {
            "events": [
                event(parcel),
                event(parcel, status="delivered", occurred_at="2026-03-04T15:00Z"),
            ]
        },
    )

    assert response.status_code == 200
    assert response.json() == {"recorded": 2, "duplicates": 0, "ignored": 0}
    parcel.refresh_from_db()
    assert parcel.status == "delivered"
    assert parcel.order.status == OrderStatus.DELIVERED
    assert set(parcel.tracking_events.values_list("source", flat=True)) == {"carrier"}


def test_duplicates_are_answered_but_not_recorded_again(client, parcel):
    post(client, event(parcel))
    response = post(client, event(parcel))
    assert response.status_code == 200
    assert response.json() == {"recorded": 0, "duplicates": 1, "ignored": 0}
    assert TrackingEvent.objects.count() == 1


@pytest.mark.parametrize(
    "token, extra",
    [
        ("wrong", {}),
        (None, {}),
        (None, {"HTTP_AUTHORIZATION": "Basic !!!"}),
        (None, {"HTTP_X_HMAC_SIGNATURE": "hmac-sha256-hex=00"}),
    ],
    ids=["wrong-token", "no-token", "bad-basic", "bad-signature"],
)
def test_wrong_or_missing_token_is_refused(client, parcel, token, extra):
    response = post(client, event(parcel), token=token, **extra)
    assert response.status_code == 401
    assert "wrong token" in response.json()["error"]
    assert not TrackingEvent.objects.exists()


def test_another_carriers_token_does_not_open_this_carrier(client, parcel):
    CarrierFactory(code="other", name="Other", webhook_token="other-token")
    response = post(client, event(parcel), code="other", token="other-token")
    assert response.status_code == 404
    assert response.json()["errors"] == [
        f"event: no shipment has tracking number {parcel.tracking_number!r} with Other."
    ]


def test_carrier_without_a_token_accepts_nothing(client, parcel):
    parcel.carrier.webhook_token = ""
    parcel.carrier.save()
    assert post(client, event(parcel), token="").status_code == 401


def test_basic_auth_password_is_the_token(client, parcel):
    credentials = base64.b64encode(f"easypost:{TOKEN}".encode()).decode()
    response = post(
        client, event(parcel), token=None, HTTP_AUTHORIZATION=f"Basic {credentials}"
    )
    assert response.status_code == 200


def test_malformed_json_is_a_400(client, parcel):
    response = post(client, b'{"events": [', token=TOKEN)
    assert response.status_code == 400
    assert response.json()["error"].startswith("The body is not valid JSON")


def test_invalid_fields_are_listed_and_nothing_is_written(client, parcel):
    response = post(
        client,
        {
            "events": [
                event(parcel),
                event(parcel, status="teleported", occurred_at="soon"),
                "not an event",
            ]
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "events[1]: status 'teleported' is not one of in_transit, out_for_delivery, "
        "delivered, exception; time 'soon' is not a date and time like "
        "2026-03-01T14:05:00Z.",
        "events[2]: must be an object.",
    ]
    assert not TrackingEvent.objects.exists()


def test_json_that_is_not_an_object_is_a_400(client, parcel):
    response = post(client, [1, 2])
    assert response.status_code == 400


def test_unknown_tracking_number_is_a_404(client, parcel):
    response = post(client, event(parcel, tracking_number="NOPE"))
    assert response.status_code == 404
    assert response.json() == {
        "error": "Unknown tracking number.",
        "errors": [
            "event: no shipment has tracking number 'NOPE' with Parcel Express."
        ],
    }


def test_unknown_tracking_number_is_one_error_however_many_scans(client, parcel):
    scans = [
        event(parcel, tracking_number="NOPE", occurred_at=f"2026-03-0{day}T09:00Z")
        for day in (2, 3, 4)
    ]
    response = post(client, {"events": scans})
    assert response.status_code == 404
    assert response.json()["errors"] == [
        "events[0]: no shipment has tracking number 'NOPE' with Parcel Express "
        "(3 updates)."
    ]


def test_one_error_per_unknown_number_beside_a_known_one(client, parcel):
    response = post(
        client,
        {
            "events": [
                event(parcel),
                event(parcel, tracking_number="NOPE"),
                event(parcel, tracking_number="ALSO-NOPE"),
                event(parcel, tracking_number="NOPE", occurred_at="2026-03-03T09:00Z"),
            ]
        },
    )
    assert response.status_code == 404
    assert response.json()["errors"] == [
        "events[1]: no shipment has tracking number 'NOPE' with Parcel Express "
        "(2 updates).",
        "events[2]: no shipment has tracking number 'ALSO-NOPE' with Parcel Express.",
    ]
    assert not TrackingEvent.objects.exists()


def test_get_is_refused(client, parcel):
    response = client.get(reverse("fulfillment:carrier_tracking", args=["pex"]))
    assert response.status_code == 405


# ---- EasyPost's tracker.updated Event, as EasyPost documents it


def easypost_event(tracking_code: str) -> dict:
    location = {
        "object": "TrackingLocation",
        "city": "AUSTIN",
        "state": "TX",
        "country": "US",
        "zip": "78701",
    }
    return {
        "id": "evt_0123456789",
        "object": "Event",
        "mode": "test",
        "description": "tracker.updated",
        "previous_attributes": {"status": "in_transit"},
        "pending_urls": [],
        "completed_urls": [],
        "created_at": "2026-03-04T15:02:00Z",
        "updated_at": "2026-03-04T15:02:00Z",
        "result": {
            "id": "trk_0123456789",
            "object": "Tracker",
            "mode": "test",
            "tracking_code": tracking_code,
            "status": "out_for_delivery",
            "status_detail": "out_for_delivery",
            "signed_by": None,
            "weight": None,
            "est_delivery_date": "2026-03-04T00:00:00Z",
            "shipment_id": None,
            "carrier": "USPS",
            "tracking_details": [
                {
                    "object": "TrackingDetail",
                    "message": "Pre-Shipment Info Sent to USPS",
                    "status": "pre_transit",
                    "status_detail": "status_update",
                    "datetime": "2026-03-01T10:00:00Z",
                    "source": "USPS",
                    "tracking_location": {**location, "city": None},
                },
                {
                    "object": "TrackingDetail",
                    "message": "Arrived at USPS Facility",
                    "status": "in_transit",
                    "status_detail": "arrived_at_facility",
                    "datetime": "2026-03-02T18:30:00Z",
                    "source": "USPS",
                    "tracking_location": location,
                },
                {
                    "object": "TrackingDetail",
                    "message": "Out for Delivery",
                    "status": "out_for_delivery",
                    "status_detail": "out_for_delivery",
                    "datetime": "2026-03-04T07:45:00Z",
                    "source": "USPS",
                    "tracking_location": location,
                },
            ],
            "carrier_detail": None,
            "public_url": "https://track.easypost.com/djE6dHJrXzAxMjM",
            "fees": [],
            "created_at": "2026-03-01T10:00:00Z",
            "updated_at": "2026-03-04T15:02:00Z",
        },
    }


@pytest.fixture
def easypost(db):
    return CarrierFactory(
        code="easypost", name="EasyPost", webhook_token="whsec", aggregator=True
    )


def easypost_post(client, body: dict, secret="whsec"):
    raw = json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return post(
        client,
        raw,
        code="easypost",
        token=None,
        HTTP_X_HMAC_SIGNATURE=f"hmac-sha256-hex={digest}",
    )


def test_easypost_tracker_updated_event_is_understood(client, parcel, easypost):
    response = easypost_post(client, easypost_event(parcel.tracking_number))

    assert response.status_code == 200
    assert response.json() == {"recorded": 2, "duplicates": 0, "ignored": 1}
    events = list(parcel.tracking_events.order_by("occurred_at"))
    assert [(e.status, e.place, e.description) for e in events] == [
        ("in_transit", "AUSTIN, TX 78701, US", "Arrived at USPS Facility"),
        ("out_for_delivery", "AUSTIN, TX 78701, US", "Out for Delivery"),
    ]
    assert {e.source for e in events} == {"easypost"}
    parcel.refresh_from_db()
    assert parcel.status == "out_for_delivery"  # the newest scan
    assert str(parcel.estimated_delivery) == "2026-03-04"

    again = easypost_post(client, easypost_event(parcel.tracking_number))
    assert again.json() == {"recorded": 0, "duplicates": 2, "ignored": 1}


def test_easypost_failure_and_delivery_map_to_our_statuses(client, parcel, easypost):
    body = easypost_event(parcel.tracking_number)
    details = body["result"]["tracking_details"]
    details.append(
        {
            "message": "Damaged in handling",
            "status": "failure",
            "status_detail": "damaged",
            "datetime": "2026-03-04T12:00:00Z",
            "tracking_location": {},
        }
    )
    assert easypost_post(client, body).status_code == 200
    parcel.refresh_from_db()
    assert (parcel.status, parcel.exception_reason) == ("exception", "damaged")

    details.append(
        {
            "message": "Delivered, In/At Mailbox",
            "status": "delivered",
            "datetime": "2026-03-05T11:00:00Z",
            "tracking_location": None,
        }
    )
    assert easypost_post(client, body).json()["recorded"] == 1
    parcel.refresh_from_db()
    assert parcel.status == "delivered"


def test_easypost_signature_over_another_body_is_refused(client, parcel, easypost):
    body = easypost_event(parcel.tracking_number)
    digest = hmac.new(b"whsec", b"{}", hashlib.sha256).hexdigest()
    response = post(
        client,
        body,
        code="easypost",
        token=None,
        HTTP_X_HMAC_SIGNATURE=f"hmac-sha256-hex={digest}",
    )
    assert response.status_code == 401


def test_easypost_events_about_other_things_are_acknowledged(client, easypost):
    body = {"object": "Event", "description": "batch.updated", "result": {}}
    response = easypost_post(client, body)
    assert response.status_code == 200
    assert response.json() == {"recorded": 0, "duplicates": 0, "ignored": 1}


def test_easypost_tracker_without_code_is_a_400(client, easypost):
    body = {"object": "Event", "description": "tracker.updated", "result": {}}
    response = easypost_post(client, body)
    assert response.status_code == 400
    assert response.json()["errors"] == ['The Tracker has no "tracking_code".']
