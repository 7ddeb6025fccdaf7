"""Postage in the admin (its settings are in `postage_settings`): each
shipment's postage (rates, label, void), end-of-day scan forms, and the
Buy button of the ship form. (The prepaid return labels' admin is in
`returns.admin.return_labels`: buying one again is the returns app's.)

Thin: every change is a call to `fulfillment.postage`; EasyPost is only
called from tasks, never in the request.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext

from core.admin_utils import ReadOnlyAdminMixin
from core.exceptions import DomainError
from core.files import file_response
from core.tasks import defer_in_transaction
from fulfillment.admin.base import FULFIL, PRINT, PermissionsMixin
from fulfillment.models import Carrier, DocumentKind
from fulfillment.models.postage import (
    CarrierAccount,
    ScanForm,
    ShipmentPostage,
)
from fulfillment.postage.buying import shipments_postage_buy_task
from fulfillment.postage.labels import postage_label_note, shipping_labels_zpl
from fulfillment.postage.rates import shipment_rates_fetch_task
from fulfillment.postage.scan_forms import (
    scan_form_labels_waiting,
    scan_forms_create_task,
    scan_forms_nothing_to_do,
)
from fulfillment.postage.voids import (
    shipment_postage_void_task,
    void_refused_on_scan_form,
)
from fulfillment.services.printing import document_print_record
from inventory.models import Location


@admin.register(ShipmentPostage)
class ShipmentPostageAdmin(PermissionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "shipment",
        "status",
        "carrier",
        "box",
        "cheapest",
        "label_carrier",
        "label_service",
        "tracking_code",
        "cost",
        "label",
        "refund_status",
        "error",
    ]
    list_filter = ["status", "carrier", "label_format"]
    list_select_related = ["shipment", "carrier", "box"]
    search_fields = ["shipment__number", "tracking_code", "easypost_shipment_id"]
    exclude = ["label_file", "rates"]
    readonly_fields = ["rates_table", "label"]
    actions = ["fetch_rates", "buy_chosen", "void_labels", "download_labels"]

    @admin.display(description="cheapest rate")
    def cheapest(self, obj: ShipmentPostage) -> str:
        if not obj.rates:
            return ""
        rate = obj.rates[0]
        return f"{rate['carrier']} {rate['service']} {rate['rate']} {rate['currency']}"

    @admin.display(description="label")
    def label(self, obj: ShipmentPostage) -> str:
        """The format of the bought label's file, with a note when it is not
        the one asked for."""
        if obj.status != ShipmentPostage.Status.BOUGHT:
            return ""
        note = postage_label_note(obj)
        what = obj.get_label_format_display() or "unknown format"
        return format_html("{} — {}", what, note) if note else what

    @admin.display(description="rates")
    def rates_table(self, obj: ShipmentPostage) -> str:
        return "; ".join(
            f"{'▶ ' if r['id'] == obj.rate_id else ''}{r['carrier']} {r['service']} "
            f"{r['rate']} {r['currency']} ({r['delivery_days'] or '?'} days)"
            for r in obj.rates
        )

    @admin.action(description="Fetch rates again", permissions=["fulfil"])
    def fetch_rates(self, request, queryset):
        ids = list(queryset.values_list("shipment_id", flat=True))
        defer_in_transaction(
            lambda: [shipment_rates_fetch_task.defer(shipment_id=pk) for pk in ids]
        )
        self.message_user(
            request,
            ngettext(
                "Fetching rates for %(count)d shipment.",
                "Fetching rates for %(count)d shipments.",
                len(ids),
            )
            % {"count": len(ids)},
        )

    @admin.action(description="Buy labels (chosen rate)", permissions=["fulfil"])
    def buy_chosen(self, request, queryset):
        choices = [[pk, ""] for pk in queryset.values_list("shipment_id", flat=True)]
        postage_buy_queue(request, choices)
        self.message_user(
            request,
            ngettext(
                "Buying %(count)d label in the background",
                "Buying %(count)d labels in the background",
                len(choices),
            )
            % {"count": len(choices)}
            + "; each shipment ships when its label is bought. Problems show in "
            "the error column.",
        )

    @admin.action(description="Void labels (not handed over)", permissions=["fulfil"])
    def void_labels(self, request, queryset):
        bought = queryset.filter(status=ShipmentPostage.Status.BOUGHT)
        on_forms = list(
            bought.filter(scan_form__isnull=False)
            .select_related("shipment", "scan_form__location", "scan_form__carrier")
            .order_by("shipment__number")
        )
        for postage in on_forms:
            self.message_user(
                request,
                void_refused_on_scan_form(
                    number=postage.shipment.number, form=postage.scan_form
                ),
                messages.ERROR,
            )
        ids = list(
            bought.filter(scan_form__isnull=True).values_list("shipment_id", flat=True)
        )
        if not ids and on_forms:
            return
        if not ids:
            self.message_user(
                request, "None of these has a bought label to void.", messages.WARNING
            )
            return
        user_id = request.user.pk
        defer_in_transaction(
            lambda: [
                shipment_postage_void_task.defer(shipment_id=pk, actor_id=user_id)
                for pk in ids
            ]
        )
        self.message_user(
            request,
            ngettext(
                "Voiding %(count)d label in the background",
                "Voiding %(count)d labels in the background",
                len(ids),
            )
            % {"count": len(ids)}
            + ": each shipment goes "
            "back to packed when EasyPost takes the refund; a refusal shows in "
            "the error column and on the order's timeline.",
        )

    @admin.action(description="Download bought labels", permissions=["print"])
    def download_labels(self, request, queryset):
        ids = list(queryset.values_list("shipment_id", flat=True))
        return labels_response(self, request, ids)

    def get_urls(self):
        return [
            path(
                "buy/",
                self.admin_site.admin_view(self.buy_view),
                name="fulfillment_shipmentpostage_buy",
            ),
            *super().get_urls(),
        ]

    def buy_view(self, request: HttpRequest) -> HttpResponse:
        """The ship form's *Buy labels* button: the chosen rate of each row."""
        if request.method != "POST" or not request.user.has_perm(FULFIL):
            raise PermissionDenied
        choices = [
            [int(pk), request.POST.get(f"rate-{pk}", "")]
            for pk in request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
            if pk.isdigit() and request.POST.get(f"rate-{pk}")
        ]
        if not choices:
            self.message_user(
                request, "Choose a rate for at least one shipment.", messages.WARNING
            )
        else:
            postage_buy_queue(request, choices)
            self.message_user(
                request,
                ngettext(
                    "Buying %(count)d label in the background",
                    "Buying %(count)d labels in the background",
                    len(choices),
                )
                % {"count": len(choices)}
                + "; each shipment ships when its label is bought (see Shipment "
                "postage).",
            )
        return HttpResponseRedirect(reverse("admin:fulfillment_shipment_changelist"))


class EndOfDayForm(forms.Form):
    location = forms.ModelChoiceField(queryset=None)
    carrier = forms.ModelChoiceField(
        queryset=None,
        help_text="The EasyPost carrier account the labels were bought with.",
    )
    day = forms.DateField(
        initial=timezone.localdate,
        help_text="Labels bought on this day (YYYY-MM-DD) that are on no form yet.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = Location.objects.filter(
            postage__isnull=False
        ).order_by("code")
        self.fields["carrier"].queryset = Carrier.objects.filter(
            account__kind=CarrierAccount.Kind.EASYPOST
        ).order_by("name")


@admin.register(ScanForm)
class ScanFormAdmin(PermissionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The end-of-day forms, their PDF, and the page that makes them."""

    list_display = [
        "day",
        "location",
        "carrier",
        "label_carrier",
        "status",
        "labels",
        "pdf",
        "message",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "location", "carrier"]
    list_select_related = ["location", "carrier", "created_by"]
    date_hierarchy = "day"
    exclude = ["form_file"]

    def get_queryset(self, request):
        # The PDF stays in the database until it is downloaded.
        return super().get_queryset(request).defer("form_file")

    @admin.display(description="labels")
    def labels(self, obj: ScanForm) -> int:
        return len(obj.tracking_codes or ())

    @admin.display(description="PDF")
    def pdf(self, obj: ScanForm) -> str:
        if not obj.form_url:
            return ""
        return format_html(
            '<a href="{}">Download</a>',
            reverse("admin:fulfillment_scanform_pdf", args=[obj.pk]),
        )

    def get_urls(self):
        return [
            path(
                "end-of-day/",
                self.admin_site.admin_view(self.end_of_day_view),
                name="fulfillment_scanform_end_of_day",
            ),
            path(
                "<int:form_id>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="fulfillment_scanform_pdf",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = (extra_context or {}) | {
            "end_of_day_url": reverse("admin:fulfillment_scanform_end_of_day")
        }
        return super().changelist_view(request, extra_context)

    def end_of_day_view(self, request: HttpRequest) -> HttpResponse:
        """Make the day's scan forms of a location and carrier (in the
        background: EasyPost is never called in the request)."""
        if not request.user.has_perm(FULFIL):
            raise PermissionDenied
        form = EndOfDayForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            where = {
                "location": data["location"],
                "carrier": data["carrier"],
                "day": data["day"],
            }
            if not scan_form_labels_waiting(**where):
                # Said on the form, kept filled in: nothing is queued.
                self.message_user(
                    request, scan_forms_nothing_to_do(**where), messages.WARNING
                )
                return self._end_of_day_page(request, form)
            args = {
                "location_id": data["location"].pk,
                "carrier_id": data["carrier"].pk,
                "day": data["day"].isoformat(),
                "actor_id": request.user.pk,
            }
            defer_in_transaction(lambda: scan_forms_create_task.defer(**args))
            self.message_user(
                request,
                f"Making the scan forms of {data['location'].code}, "
                f"{data['carrier'].name}, {data['day']:%Y-%m-%d} in the background; "
                "they appear here with their PDF when EasyPost has made them.",
            )
            return HttpResponseRedirect(
                reverse("admin:fulfillment_scanform_changelist")
            )
        return self._end_of_day_page(request, form)

    def _end_of_day_page(self, request: HttpRequest, form) -> HttpResponse:
        context = self.admin_site.each_context(request) | {
            "opts": self.model._meta,
            "title": "End of day: scan forms",
            "form": form,
            "submit_label": "Make scan forms",
        }
        return TemplateResponse(
            request, "admin/fulfillment/scanform/end_of_day.html", context
        )

    def pdf_view(self, request: HttpRequest, form_id: int) -> HttpResponse:
        if not request.user.has_perm(PRINT):
            raise PermissionDenied
        found = (
            ScanForm.objects.filter(pk=form_id)
            .values_list("form_file", "day", "label_carrier", "status")
            .first()
        )
        if found is None:
            raise Http404
        data, day, label_carrier, status = found
        if data is None:
            self.message_user(
                request,
                "The form's PDF has not arrived from EasyPost yet; try again in a "
                "minute.",
                messages.WARNING,
            )
            return HttpResponseRedirect(
                reverse("admin:fulfillment_scanform_changelist")
            )
        return file_response(
            model=ScanForm,
            field="form_file",
            name=data,
            filename=f"scan-form-{day:%Y-%m-%d}-{label_carrier}-{form_id}.pdf",
            inline=False,
        )


def postage_buy_queue(request: HttpRequest, choices: list[list]) -> None:
    user_id = request.user.pk
    defer_in_transaction(
        lambda: shipments_postage_buy_task.defer(choices=choices, actor_id=user_id)
    )


def labels_response(
    modeladmin, request: HttpRequest, shipment_ids
) -> HttpResponse | None:
    """Answer with the ZPL of these labels (their locations print ZPL), and
    record the print."""
    if not request.user.has_perm(PRINT):
        raise PermissionDenied
    try:
        text, numbers = shipping_labels_zpl(shipment_ids)
    except DomainError as error:
        modeladmin.message_user(request, str(error), messages.ERROR)
        return None
    document_print_record(
        kind=DocumentKind.SHIPPING_LABEL,
        actor=request.user,
        shipment_ids=shipment_ids,
        pages=len(numbers),
    )
    response = HttpResponse(text, content_type="application/zpl; charset=utf-8")
    first = numbers[0] if numbers else "none"
    response["Content-Disposition"] = (
        f'attachment; filename="labels-{first}-{len(numbers)}.zpl"'
    )
    return response
