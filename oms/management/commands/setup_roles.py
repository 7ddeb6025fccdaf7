from django.core.management.base import BaseCommand

from oms.roles import roles_setup


class Command(BaseCommand):
    help = "Create or update the Warehouse, Customer service and Manager groups."

    def handle(self, *args, **options) -> None:
        for name, group in roles_setup().items():
            self.stdout.write(f"{name}: {group.permissions.count()} permissions")
