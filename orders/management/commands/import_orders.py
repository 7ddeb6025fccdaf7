"""python manage.py import_orders PATH [--channel CODE] [--format auto|oms|shopify]
[--dry-run] [--partial]"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from orders.importing.confirm import import_confirm
from orders.importing.reader import ImportFileError
from orders.importing.services import orders_import
from orders.models import Channel


class ProgressBar:
    """A one-line progress bar, drawn only when the output is a terminal."""

    def __init__(self, stream, enabled: bool) -> None:
        self.stream, self.enabled, self.last = stream, enabled, ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or not total:
            return
        width = 30
        filled = int(width * done / total)
        line = f"\r{stage:<9} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if line != self.last:
            self.stream.write(line)
            self.stream.flush()
            self.last = line

    def close(self) -> None:
        if self.enabled and self.last:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "Import orders from a CSV file (the OMS format or a Shopify order export)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="CSV file to import")
        parser.add_argument("--channel", help="channel code for rows that name none")
        parser.add_argument(
            "--format", default="auto", choices=["auto", "oms", "shopify"]
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check everything, write nothing"
        )
        parser.add_argument(
            "--partial",
            action="store_true",
            help="import the valid orders even when others are refused",
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        channel = None
        if options["channel"]:
            channel = Channel.objects.filter(code=options["channel"]).first()
            if channel is None:
                codes = ", ".join(Channel.objects.values_list("code", flat=True))
                raise CommandError(
                    f"Unknown channel {options['channel']!r}; use one of: {codes}."
                )
        bar = ProgressBar(self.stderr._out, enabled=sys.stderr.isatty())
        arguments = {
            "data": path.read_bytes(),
            "actor": None,
            "channel": channel,
            "format_code": options["format"],
            "filename": path.name,
            "partial": options["partial"],
            "progress": bar,
        }
        try:
            if options["dry_run"]:
                result, confirmed = orders_import(**arguments, dry_run=True), None
            else:
                confirmed = import_confirm(**arguments)
                result = confirmed.result
        except ImportFileError as error:
            bar.close()
            raise CommandError(str(error)) from error
        bar.close()
        for notice in result.notices:
            self.stdout.write(notice)
        for row, external_id, reason in result.skipped_by_channel:
            self.stdout.write(f"row {row}: order {external_id} skipped, {reason}.")
        for problem in result.problems:
            self.stderr.write(str(problem))
        if confirmed is not None and result.written:
            self.stdout.write(
                f"Allocated {confirmed.allocated} of {len(result.order_ids)} orders."
            )
        self.stdout.write(result.summary())
        if result.problems:
            sys.exit(1)
