"""What the fulfillment admins share: their action permissions and the
status badge."""

from django.http import HttpRequest
from django.utils.html import format_html

FULFIL = "fulfillment.fulfil_shipment"
PRINT = "fulfillment.print_documents"


class PermissionsMixin:
    """`@admin.action(permissions=["fulfil"])` and `["print"]` check these."""

    def has_fulfil_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(FULFIL)

    def has_print_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PRINT)


def status_badge(obj) -> str:
    """Return the coloured status of a shipment or pick list."""
    return format_html(
        '<span class="oms-status oms-status-{}">{}</span>',
        obj.status,
        obj.get_status_display(),
    )
