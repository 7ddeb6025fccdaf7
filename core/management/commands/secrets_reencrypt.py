"""Encrypt every stored secret again with the first key of
OMS_FIELD_ENCRYPTION_KEYS (the key rotation of docs/operations.md)."""

from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from core.encryption import secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Encrypt shop tokens, webhook secrets and carrier keys again with the "
        "first key of OMS_FIELD_ENCRYPTION_KEYS; afterwards the older keys can "
        "be removed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args, batch_size: int, **options):
        count = secrets_reencrypt(batch_size=batch_size)
        self.stdout.write(
            ngettext(
                "%(count)d secret encrypted with the first key.",
                "%(count)d secrets encrypted with the first key.",
                count,
            )
            % {"count": count}
        )
