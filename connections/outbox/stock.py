"""Available stock back to the shops, coalesced and in order.

Inventory emits the `stock.changed` hook (core/hooks.py), whose handler is
`outbox_stock_changed`, inside every stock write that changes what is
available. For each channel that
pushes stock and lists the SKU, one `inventory.updated` message waits at
most: a change while one waits adds nothing. It is due
`OMS_STOCK_PUSH_COALESCE_SECONDS` after the first change, so a channel hears
about a SKU at most once per that many seconds, and the quantity is read when
it is sent: always the newest. One push per channel and SKU is on its way at
a time (a database constraint), each drawing a higher `sequence` when it
leaves, so an older push never lands after a newer one.
"""

from collections.abc import Iterable

from django.utils import timezone

from connections.models import ChannelListing, OutboundMessage
from connections.outbox.rules import (
    GENERIC,
    SHOPIFY,
    WOOCOMMERCE,
    coalesce_window,
    max_attempts,
    platform_of,
)
from connections.outbox.services import message_id_new, send_on_commit
from inventory.models import Product
from orders.models import Channel

Kind = OutboundMessage.Kind
Status = OutboundMessage.Status


def stock_key(sku: str) -> str:
    return sku[:100]


def listed_products(channel: Channel, product_ids: list[int]) -> set[int]:
    if platform_of(channel) == GENERIC:
        return set(product_ids) if channel.webhook_url else set()
    listings = ChannelListing.objects.filter(
        channel=channel, product_id__in=product_ids
    )
    if platform_of(channel) == SHOPIFY:
        listings = listings.exclude(shopify_inventory_item_id="")
    elif platform_of(channel) == WOOCOMMERCE:
        listings = listings.filter(woocommerce_product_id__isnull=False)
    return set(listings.values_list("product_id", flat=True))


def stock_pushing_channels() -> list[Channel]:
    """The active channels that push stock to a platform that takes it.

    Every stock write asks: read each time (one query on the few channels,
    what a hit in the database cache would cost, and no call to a cache
    server under the stock rows' locks), so a channel switched on or off
    counts at once."""
    return [
        channel
        for channel in Channel.objects.filter(active=True, push_stock=True)
        if platform_of(channel) in (GENERIC, SHOPIFY, WOOCOMMERCE)
    ]


def outbox_stock_changed(*, product_ids: Iterable[int]) -> int:
    """Queue a stock push of these products to every channel that wants one;
    return how many new messages were recorded (changes that join a waiting
    push add none). Runs inside the stock write's transaction."""
    product_ids = sorted(set(product_ids))
    if not product_ids:
        return 0
    channels = stock_pushing_channels()
    if not channels:
        return 0
    skus = dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "sku"))
    due = timezone.now() + coalesce_window()
    created: list[OutboundMessage] = []
    for channel in channels:
        wanted = listed_products(channel, product_ids)
        if not wanted:
            continue
        waiting = set(
            OutboundMessage.objects.filter(
                channel=channel,
                kind=Kind.INVENTORY_UPDATED,
                status=Status.PENDING,
                product_id__in=wanted,
            ).values_list("product_id", flat=True)
        )
        created += [
            OutboundMessage(
                channel=channel,
                platform=platform_of(channel),
                kind=Kind.INVENTORY_UPDATED,
                dedupe_key=stock_key(skus[product_id]),
                product_id=product_id,
                payload={"sku": skus[product_id]},
                message_id=message_id_new(),
                attempts_left=max_attempts(),
                next_attempt_at=due,
            )
            for product_id in sorted(wanted - waiting)
            if product_id in skus
        ]
    if not created:
        return 0
    # A push recorded at the same moment by another transaction wins; this
    # change then rides on it (its quantity is read when it is sent).
    OutboundMessage.objects.bulk_create(created, ignore_conflicts=True)
    ids = list(
        OutboundMessage.objects.filter(
            channel__in=channels,
            kind=Kind.INVENTORY_UPDATED,
            status=Status.PENDING,
            product_id__in=product_ids,
            next_attempt_at=due,
        ).values_list("pk", flat=True)
    )
    send_on_commit(ids, run_after=due)
    return len(ids)
