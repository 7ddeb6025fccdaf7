from django.conf import settings
from django.core.management.base import BaseCommand

from oms.seed.data import DEMO_USERS
from oms.seed.demo import seed_demo
from oms.seed.shops import curl_example


class Command(BaseCommand):
    help = "Load the demo data set (idempotent: a second run adds nothing)."

    def handle(self, *args, **options) -> None:
        report = seed_demo()
        self.stdout.write(
            f"Demo data: {report.products} products, {report.orders_created} orders "
            f"created, {report.orders_existing} already there."
        )
        if report.users_created:
            created = ", ".join(username for username, _, _ in report.users_created)
            self.stdout.write(f"Created demo users: {created}.")
        self.stdout.write(
            self.style.SUCCESS("Demo logins (username / password / role):")
        )
        for username, password, role in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {password:<22} {role or 'superuser'}")
        if report.api_key:
            self.stdout.write(
                self.style.SUCCESS(
                    f"API key of channel {report.api_channel} (shown once; the "
                    "previous demo key is revoked):"
                )
            )
            self.stdout.write(f"  {report.api_key}")
            self.stdout.write("Create an order through the API:")
            self.stdout.write(
                curl_example(
                    key=report.api_key,
                    sku=report.api_sku,
                    base_url=settings.OMS_PUBLIC_URL.rstrip("/"),
                )
            )
            self.stdout.write(
                "The Shopify and WooCommerce demo channels are not connected to "
                "real shops: what they would be sent waits as not connected under "
                "Connections › Outbound messages."
            )
