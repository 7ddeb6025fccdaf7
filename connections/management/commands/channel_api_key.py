"""Print a new API key for a channel (shown once), or revoke one."""

from django.core.management.base import BaseCommand, CommandError

from connections.models import ChannelApiKey
from connections.services.api_keys import (
    channel_api_key_create,
    channel_api_key_revoke,
)
from orders.exceptions import OrderError
from orders.models import Channel


class Command(BaseCommand):
    help = (
        "Make a new order-API key for the channel CODE and print it (it is shown "
        "only now), or revoke a key with --revoke PREFIX."
    )

    def add_arguments(self, parser):
        parser.add_argument("code", help="The channel's code.")
        parser.add_argument("--name", default="", help="Who will use the key.")
        parser.add_argument(
            "--revoke", metavar="PREFIX", help="Revoke the key with this prefix."
        )

    def handle(self, *args, code: str, name: str, revoke: str | None, **options):
        channel = Channel.objects.filter(code=code).first()
        if channel is None:
            raise CommandError(
                f"No channel {code!r}. Channels: "
                + ", ".join(Channel.objects.values_list("code", flat=True))
            )
        if revoke:
            api_key = ChannelApiKey.objects.filter(
                channel=channel, prefix=revoke
            ).first()
            if api_key is None:
                raise CommandError(f"{channel.name} has no key with prefix {revoke!r}.")
            channel_api_key_revoke(api_key=api_key)
            self.stdout.write(f"Revoked key {revoke} of {channel.name}.")
            return
        try:
            _, key = channel_api_key_create(channel=channel, name=name)
        except OrderError as error:
            raise CommandError(str(error)) from error
        self.stderr.write(
            f"New API key for {channel.name}; it is not shown again. Send it as "
            "`Authorization: Bearer <key>`:"
        )
        self.stdout.write(key)
