"""Prepaid return labels bought through EasyPost (a fulfillment record,
bought and mailed by the returns app): their status, and *Buy again* for a
purchase EasyPost refused."""

from django.contrib import admin, messages
from django.utils.translation import ngettext

from core.admin_utils import ReadOnlyAdminMixin
from core.exceptions import DomainError
from fulfillment.admin.base import PermissionsMixin
from fulfillment.models.postage import ReturnLabel
from returns.services.labels import return_label_buy_again


@admin.register(ReturnLabel)
class ReturnLabelAdmin(PermissionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "return_number",
        "order",
        "status",
        "attempts",
        "label_carrier",
        "tracking_code",
        "cost",
        "error",
        "bought_at",
    ]
    list_select_related = ["order"]
    list_filter = ["status"]
    search_fields = ["return_number", "tracking_code", "order__number"]
    exclude = ["label_file"]
    actions = ["buy_again"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("label_file")

    @admin.action(description="Buy again (failed labels)", permissions=["fulfil"])
    def buy_again(self, request, queryset):
        done, refused = 0, []
        for label in queryset.filter(status=ReturnLabel.Status.FAILED):
            try:
                return_label_buy_again(label=label, actor=request.user)
            except DomainError as error:
                refused.append(str(error))
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext(
                    "Buying %(count)d return label again in the background",
                    "Buying %(count)d return labels again in the background",
                    done,
                )
                % {"count": done}
                + "; the "
                "customer gets the instructions when the label is bought.",
            )
        for problem in refused:
            self.message_user(request, problem, messages.ERROR)
        if not done and not refused:
            self.message_user(
                request, "Only failed return labels are bought again.", messages.WARNING
            )
