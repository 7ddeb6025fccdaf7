"""*Test connection* on a channel's admin page: a worker reads the shop's API
(Shopify's `shop` query, WooCommerce's `system_status`) or posts a signed
`ping` to a generic channel's webhook URL, and records what came back.

Nothing that talks to the network runs in the web request: the button
records a waiting check and queues its task after the commit; the page
shows the answer once the worker has it. One bounded request
(`OMS_OUTBOX_TIMEOUT`), never retried: the person asking tries again.
"""

import logging
from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone

from connections.generic import webhooks as generic
from connections.http import Outcome, SendError
from connections.models import ConnectionCheck
from connections.outbox.services import message_id_new
from connections.shopify import outbound as shopify
from connections.woocommerce import outbound as woocommerce
from core.tasks import app
from core.users import Actor
from orders.models import Channel

logger = logging.getLogger("oms.outbox")

Status = ConnectionCheck.Status
SHOP_QUERY = "query ShopForOms { shop { name myshopifyDomain } }"


def connection_check_request(*, channel: Channel, actor: Actor) -> ConnectionCheck:
    """Record a waiting check of the channel's connection; a worker makes it
    after the commit."""
    with transaction.atomic():
        check = ConnectionCheck.objects.create(
            channel=channel,
            requested_by=actor if getattr(actor, "pk", None) else None,
        )
        transaction.on_commit(lambda: connection_check_task.defer(check_id=check.pk))
    return check


def _shopify(channel: Channel, outcome: Outcome) -> str:
    shop = shopify.graphql(channel, SHOP_QUERY, {}, outcome).get("shop") or {}
    name = shop.get("name") or "the shop"
    return (
        f"Connected to {name} ({shop.get('myshopifyDomain') or channel.shop_domain})."
    )


def _woocommerce(channel: Channel, outcome: Outcome) -> str:
    status = woocommerce.call(channel, "GET", "/system_status", outcome)
    environment = (status or {}).get("environment") or {}
    version = environment.get("version") or "?"
    site = environment.get("site_url") or channel.shop_domain
    return f"Connected to WooCommerce {version} at {site}."


def _generic(channel: Channel, outcome: Outcome) -> str:
    if not channel.webhook_url:
        raise SendError(
            "This channel has no webhook URL: nothing is sent to it (it uses "
            "the order API only).",
            retry=False,
        )
    ping = SimpleNamespace(kind="ping", attempts=1, message_id=message_id_new())
    payload = {"event": "ping", "channel": channel.code}
    generic.post(
        channel,
        ping,
        outcome,
        payload={**payload, "occurred_at": timezone.now().isoformat()},
    )
    return f"{channel.webhook_url} answered the signed ping."


CHECKS = {
    Channel.Platform.SHOPIFY: _shopify,
    Channel.Platform.WOOCOMMERCE: _woocommerce,
    Channel.Platform.GENERIC: _generic,
}


def connection_check_run(*, check_id: int) -> ConnectionCheck:
    """Make the check's request (outside any transaction) and record the
    answer."""
    check = ConnectionCheck.objects.select_related("channel").get(pk=check_id)
    if check.status != Status.WAITING:
        return check
    channel = check.channel
    outcome = Outcome()
    try:
        answer = CHECKS[channel.platform or Channel.Platform.GENERIC](channel, outcome)
        status = Status.OK
    except SendError as error:
        answer, status = str(error), Status.FAILED
    last = outcome.answers[-1] if outcome.answers else None
    ConnectionCheck.objects.filter(pk=check.pk, status=Status.WAITING).update(
        status=status,
        answer=answer[:500],
        response_code=last.code if last else None,
        finished_at=timezone.now(),
    )
    logger.info("connection check %s of %s: %s", check.pk, channel.code, status)
    check.refresh_from_db()
    return check


@app.task()
def connection_check_task(check_id: int) -> str:
    """Test a channel's connection (*Test connection* on its admin page)."""
    return connection_check_run(check_id=check_id).status
