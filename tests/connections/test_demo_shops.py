"""The demo's connected shops: never called, clearly failed; an API key and
a curl that creates an order."""

import json
import re
import shlex
from io import StringIO

import pytest
from django.core.management import call_command

from connections.models import OutboundMessage
from orders.models import Channel, Order


@pytest.mark.django_db(transaction=True)
def test_seed_demo_connects_shops_that_fail_clearly_and_prints_a_working_curl(
    client,
):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()

    shops = Channel.objects.filter(platform__in=["shopify", "woocommerce"])
    assert {c.shop_domain.rsplit(".", 1)[-1] for c in shops} == {"invalid"}
    messages = OutboundMessage.objects.filter(channel__in=shops).exclude(
        platform="email"
    )
    assert messages.filter(kind="fulfillment.create").exists()
    assert set(messages.values_list("status", flat=True)) <= {"failed", "pending"}
    failed = messages.filter(status="failed").first()
    assert failed is not None and "not connected (a demo channel)" in failed.last_error

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
