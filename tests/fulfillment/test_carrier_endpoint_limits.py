"""The carrier endpoint at its edges: scans from the future, JSON the parser
cannot take, bodies sent in chunks."""

import io
import json
from datetime import timedelta

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from fulfillment import views
from fulfillment.models import Shipment, TrackingEvent

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-token"


@pytest.fixture
def parcel(shipped, product, carrier):
    carrier.webhook_token = TOKEN
    carrier.save()
    return Shipment.objects.get(order=shipped([(product, 1)]))


def post(client, body, code="pex"):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(
        reverse("fulfillment:carrier_tracking", args=[code]),
        data=data,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
    )


def scan(parcel, when, status="in_transit"):
    return {
        "tracking_number": parcel.tracking_number,
        "status": status,
        "occurred_at": when.isoformat(),
    }


def test_a_scan_dated_years_ahead_is_refused_naming_the_event(client, parcel):
    now = timezone.now()
    response = post(
        client,
        {
            "events": [
                scan(parcel, now - timedelta(hours=2)),
                scan(parcel, now.replace(year=2099)),
            ]
        },
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error.startswith(f"events[1]: Tracking number {parcel.tracking_number!r}")
    assert "2099-" in error and "in the future" in error and "1 day" in error
    assert not TrackingEvent.objects.exists()  # all or nothing
    # …so a real delivery still delivers afterwards.
    assert post(client, scan(parcel, now, status="delivered")).status_code == 200
    parcel.refresh_from_db()
    assert parcel.status == "delivered"


def test_a_delivery_in_the_future_is_refused(client, parcel):
    when = timezone.now() + timedelta(days=3)
    response = post(client, scan(parcel, when, status="delivered"))
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error.startswith("event: Tracking number") and "A delivery" in error
    parcel.refresh_from_db()
    assert (parcel.status, parcel.delivered_at) == ("shipped", None)


def test_a_scan_within_the_tolerance_is_taken(client, parcel):
    response = post(client, scan(parcel, timezone.now() + timedelta(hours=3)))
    assert response.status_code == 200
    assert response.json()["recorded"] == 1


def test_the_tolerance_is_a_setting(client, parcel, settings):
    settings.OMS_TRACKING_FUTURE_TOLERANCE = 60
    response = post(client, scan(parcel, timezone.now() + timedelta(hours=3)))
    assert response.status_code == 400
    assert "at most 0.0166667 hours ahead" in response.json()["errors"][0]


@pytest.mark.parametrize(
    "body, says",
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"events": [{"tracking_number": ' + b"9" * 5000 + b"}]}", "digits"),
        (b'{"events": "\xff\xfe\xfa"}', "not valid JSON"),
        (b"\xc3\x28 not utf-8", "not valid JSON"),
    ],
    ids=["deep-nesting", "huge-integer", "invalid-utf8-in-string", "invalid-utf8"],
)
def test_json_the_parser_cannot_take_is_a_json_400(client, parcel, body, says):
    response = post(client, body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"].startswith("The body is not valid JSON")
    assert says in response.json()["error"]


def test_nul_and_lone_surrogates_never_reach_the_database(client, parcel):
    event = scan(parcel, timezone.now())
    event["description"] = "Depot\u0000 \ud800scan"
    raw = json.dumps({"events": [event]}).encode()  # \u escapes, valid JSON
    response = post(client, raw)
    assert response.status_code == 200
    assert TrackingEvent.objects.get().description == "Depot scan"


def test_a_control_character_in_the_tracking_number_is_a_400(client, parcel):
    event = scan(parcel, timezone.now())
    event["tracking_number"] = "TR\u00001"
    response = post(client, event)
    assert response.status_code == 400
    assert "control character" in response.json()["errors"][0]


# ---- bodies without Content-Length (Transfer-Encoding: chunked)


def chunked_request(body: bytes, *, code="pex") -> WSGIRequest:
    """A request as gunicorn hands over a chunked body: de-chunked in
    wsgi.input, no CONTENT_LENGTH, `wsgi.input_terminated` set."""
    environ = RequestFactory()._base_environ(
        PATH_INFO=reverse("fulfillment:carrier_tracking", args=[code]),
        REQUEST_METHOD="POST",
        CONTENT_TYPE="application/json",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True
    return WSGIRequest(environ)


def test_a_chunked_body_is_read(parcel):
    body = json.dumps(scan(parcel, timezone.now())).encode()
    response = views.carrier_tracking(chunked_request(body), code="pex")
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["recorded"] == 1


def test_a_chunked_body_over_the_limit_is_a_413(parcel):
    body = b" " * (views.MAX_BODY_BYTES + 1)
    response = views.carrier_tracking(chunked_request(body), code="pex")
    assert response.status_code == 413
    assert not TrackingEvent.objects.exists()


def test_a_declared_length_over_the_limit_is_a_413(client, parcel):
    response = client.post(
        reverse("fulfillment:carrier_tracking", args=["pex"]),
        data=b"{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
        CONTENT_LENGTH=str(views.MAX_BODY_BYTES + 1),
    )
    assert response.status_code == 413
