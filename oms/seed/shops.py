"""The demo's connected shops: a Shopify and a WooCommerce channel whose
outbound calls go nowhere, and an API key for the web shop.

Their shop domains are under `.invalid` (a name that can never resolve):
the outbox parks their messages at once as *not connected* ("not connected
(a demo channel)"), not failed, so *Outbound messages* shows what would have
gone to each shop without any request leaving the machine.
"""

from django.utils import timezone

from connections.models import ChannelApiKey, ChannelListing
from connections.services.api_keys import channel_api_key_create
from inventory.models import Product
from orders.models import Channel

DEMO_SHOPS = [
    # code, name, platform, domain, access token
    (
        "shopify-demo",
        "Shopify store (demo, not connected)",
        Channel.Platform.SHOPIFY,
        "oms-demo.myshopify.invalid",
        "shpat_demo_not_a_real_token",
    ),
    (
        "woo-demo",
        "WooCommerce store (demo, not connected)",
        Channel.Platform.WOOCOMMERCE,
        "woo-demo.invalid",
        "ck_demo:cs_demo",
    ),
]
API_KEY_NAME = "demo (seed_demo)"


def seed_shops(*, products: list[Product]) -> None:
    """Create the demo shop channels and their listings (once)."""
    for code, name, platform, domain, token in DEMO_SHOPS:
        channel, created = Channel.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": Channel.Kind.WEB,
                "platform": platform,
                "shop_domain": domain,
                "access_token": token,
                "push_stock": True,
            },
        )
        if not created:
            continue
        for number, product in enumerate(products[:5], start=1):
            ChannelListing.objects.get_or_create(
                channel=channel,
                product=product,
                defaults={
                    "shopify_inventory_item_id": str(40000 + number)
                    if platform == Channel.Platform.SHOPIFY
                    else "",
                    "shopify_location_id": "70001"
                    if platform == Channel.Platform.SHOPIFY
                    else "",
                    "woocommerce_product_id": 500 + number
                    if platform == Channel.Platform.WOOCOMMERCE
                    else None,
                },
            )


def seed_api_key(*, channel_code: str = "web") -> tuple[str, str]:
    """Give the web shop a fresh demo API key (the previous demo key is
    revoked: a key is shown once); return the channel code and the key."""
    channel = Channel.objects.get(code=channel_code)
    ChannelApiKey.objects.filter(
        channel=channel, name=API_KEY_NAME, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    _, key = channel_api_key_create(channel=channel, name=API_KEY_NAME)
    return channel.code, key


def curl_example(*, key: str, sku: str, base_url: str) -> str:
    """A curl that creates an order through the API at `base_url`."""
    return (
        f"curl -X POST {base_url}/api/v1/orders \\\n"
        f'  -H "Authorization: Bearer {key}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        '  -d \'{"external_id": "API-1001", '
        '"customer": {"email": "ada@example.com", "name": "Ada Lovelace"}, '
        '"shipping_address": {"name": "Ada Lovelace", "address1": "1 Main St", '
        '"city": "Austin", "region": "TX", "postcode": "78701", "country": "US"}, '
        f'"lines": [{{"sku": "{sku}", "quantity": 1, "unit_price": "19.90"}}]}}\''
    )
