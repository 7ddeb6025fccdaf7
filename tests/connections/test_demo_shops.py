"""The demo's shops: never called, their messages parked as not connected
(no failure printed or counted); an API key and a curl that creates an
order at the demo's address."""

import json
import logging
import re
import shlex
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from connections.models import OutboundMessage
from oms.dashboard import median_hours_to_ship
from orders.models import Channel, Order
from orders.services.shipby import ship_by_late_q


@pytest.mark.django_db(transaction=True)
def test_seed_demo_parks_demo_shop_messages_and_prints_a_working_curl(
    client, settings, caplog
):
    settings.OMS_PUBLIC_URL = "http://127.0.0.1:8123/"
    out = StringIO()
    with caplog.at_level(logging.INFO):
        call_command("seed_demo", stdout=out)
    text = out.getvalue()

    shops = Channel.objects.filter(platform__in=["shopify", "woocommerce"])
    assert {c.shop_domain.rsplit(".", 1)[-1] for c in shops} == {"invalid"}
    messages = OutboundMessage.objects.filter(channel__in=shops).exclude(
        platform="email"
    )
    assert messages.filter(kind="fulfillment.create").exists()
    assert set(messages.values_list("status", flat=True)) <= {
        "not_connected",
        "pending",
    }
    # Only stock pushes still wait (for their coalescing window).
    assert not messages.filter(status="pending").exclude(kind="inventory.updated")
    parked = messages.first()
    assert "not connected (a demo channel)" in parked.last_error
    assert not OutboundMessage.objects.filter(status="failed").exists()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
    ][:5]
    assert "failed" not in text
    assert "curl -X POST http://127.0.0.1:8123/api/v1/orders" in text
    # The customers' e-mails link to the address the demo runs on.
    assert mail.outbox
    assert all("http://127.0.0.1:8000" not in m.body for m in mail.outbox)
    assert any("http://127.0.0.1:8123/o/" in m.body for m in mail.outbox)

    # A normal working day: a handful of orders late to ship, most due today
    # or later, and times to ship that differ by channel.
    assert 1 <= Order.objects.filter(ship_by_late_q()).count() <= 20
    assert (
        Order.objects.filter(ship_by__gte=timezone.localdate())
        .exclude(status__in=["shipped", "delivered", "cancelled"])
        .count()
        >= 100
    )
    hours = [h for _, h in median_hours_to_ship(timezone.now() - timedelta(days=30))]
    assert len(hours) >= 3 and len(set(hours)) == len(hours), hours

    key = re.search(r"Bearer (oms_\S+)\"", text).group(1)
    curl = shlex.split(text.split("curl -X POST", 1)[1].split("\nThe ", 1)[0])
    body = json.loads(curl[curl.index("-d") + 1])
    response = client.post(
        "/api/v1/orders",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.content
    assert Order.objects.filter(external_id="API-1001").exists()
