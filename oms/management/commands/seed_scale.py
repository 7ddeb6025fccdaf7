from django.core.management.base import BaseCommand, CommandError

from oms.seed.scale import seed_scale


class Command(BaseCommand):
    help = "Add a large data set (PostgreSQL): orders, lines, customers, shipments."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--orders", type=int, default=1_000_000)
        parser.add_argument(
            "--customers", type=int, help="default: a quarter of --orders"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=3,
            help="database connections loading at once (default 3)",
        )

    def handle(self, *args, **options) -> None:
        try:
            figures = seed_scale(
                orders=options["orders"],
                customers=options["customers"],
                workers=options["workers"],
                say=self.stdout.write,
            )
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Loaded {figures}"))
