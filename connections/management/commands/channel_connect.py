"""Connect a channel to its shop from the command line."""

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from connections.services.channels import channel_connect
from orders.exceptions import OrderError
from orders.models import Channel


class Command(BaseCommand):
    help = (
        "Set the channel CODE up for Shopify, WooCommerce or our generic API "
        "(made when new), and print where the shop sends its webhooks."
    )

    def add_arguments(self, parser):
        parser.add_argument("code", help="The channel's code (made when new).")
        parser.add_argument(
            "--platform", required=True, choices=Channel.Platform.values
        )
        parser.add_argument("--name", help="The channel's name, when made.")
        parser.add_argument(
            "--shop-domain", help="acme.myshopify.com, or the WooCommerce shop's."
        )
        parser.add_argument(
            "--access-token",
            help="Shopify Admin API token (shpat_…); WooCommerce ck_…:cs_….",
        )
        parser.add_argument(
            "--webhook-secret",
            help="The secret the shop signs its webhooks with (Shopify: the "
            "app's client secret; WooCommerce: the webhook's Secret).",
        )

    def handle(self, *args, **options):
        try:
            channel, created = channel_connect(
                code=options["code"],
                platform=options["platform"],
                shop_domain=options["shop_domain"],
                access_token=options["access_token"],
                inbound_secret=options["webhook_secret"],
                name=options["name"],
            )
        except OrderError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{'Made' if created else 'Updated'} channel {channel.code} "
            f"({channel.get_platform_display()})."
        )
        if channel.platform != Channel.Platform.GENERIC:
            url = reverse(
                f"connections:{channel.platform}_webhook", kwargs={"code": channel.code}
            )
            self.stdout.write(
                f"Point the shop's order webhooks at https://<this host>{url}"
            )
            if not channel.inbound_secret:
                self.stdout.write(
                    "No webhook secret yet: webhooks are refused (401) until "
                    "--webhook-secret is set."
                )
        self.stdout.write(
            f"API keys for the order API: manage.py channel_api_key {channel.code}"
        )
