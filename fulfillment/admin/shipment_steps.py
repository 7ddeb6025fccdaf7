"""The warehouse steps on the shipments list: pack, ship and deliver in bulk
(scanner-friendly forms, all or nothing) and ship from a CSV."""

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from core.exceptions import DomainError
from fulfillment import forms, selectors
from fulfillment.exceptions import BatchRefusedError
from fulfillment.models import (
    Shipment,
    ShipmentStatus,
)
from fulfillment.services.packing import Parcels, shipments_pack
from fulfillment.services.shipping import (
    ShipmentHandover,
    shipments_ship,
    shipments_ship_many,
)
from fulfillment.services.tracking import (
    shipment_deliver,
)


def _report(modeladmin, request, done: list[str], errors: list[str], verb: str):
    if done:
        modeladmin.message_user(
            request, f"{verb} {len(done)}: {', '.join(done[:30])}.", messages.SUCCESS
        )
    for error in errors[:30]:
        modeladmin.message_user(request, error, messages.ERROR)
    if len(errors) > 30:
        modeladmin.message_user(
            request, f"… and {len(errors) - 30} more problems.", messages.ERROR
        )


def _action_page(
    modeladmin, request, queryset, *, title, action, template, **context
) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": modeladmin.model._meta,
            "action": action,
            "selected": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "seen_versions": request.POST.get("seen_versions", ""),
            **context,
        },
    )


def _seen_versions(request, queryset) -> dict[int, int]:
    """The versions of the selected shipments the action form was opened with
    (optimistic locking: the services refuse when one moved on)."""
    seen = {}
    for pair in request.POST.get("seen_versions", "").split(","):
        pk, _, version = pair.partition(":")
        if pk.isdigit() and version.isdigit():
            seen[int(pk)] = int(version)
    selected = set(queryset.filter(pk__in=list(seen)).values_list("pk", flat=True))
    return {pk: version for pk, version in seen.items() if pk in selected}


# A page lists this many problems of a CSV, then says how many more there are.
LISTED_PROBLEMS = 500


def listed(errors: list[str]) -> dict:
    return {
        "errors": errors[:LISTED_PROBLEMS],
        "more_errors": max(0, len(errors) - LISTED_PROBLEMS),
    }


def _errors_beside_rows(formset, refused: BatchRefusedError) -> None:
    """Put each refused shipment's problem beside its row of the formset."""
    for form in formset.forms:
        problem = refused.by_shipment.get(_form_pk(form))
        if problem:
            form.add_error(None, problem)
    if not refused.by_shipment:
        formset._non_form_errors = formset.error_class(refused.errors)


# The button each bulk form is sent with, by what it does.
BATCH_BUTTONS = {"Packed": "Mark packed", "Shipped": "Ship"}


def _batch_apply(modeladmin, request, queryset, formset, run, verb: str) -> bool:
    """Run a bulk step's service on the rows of a valid form, all or nothing.

    Return True when the step is over (done, or refused as a whole); False
    when the form is shown again, each refused row marked beside it.
    """
    if formset.is_valid():
        try:
            report = run(formset.cleaned_data, _seen_versions(request, queryset))
        except BatchRefusedError as refused:
            _errors_beside_rows(formset, refused)
        except DomainError as error:
            modeladmin.message_user(request, str(error), messages.ERROR)
            return True
        else:
            _report(modeladmin, request, report.done, report.errors, verb)
            return True
    modeladmin.message_user(
        request,
        f"Nothing was {verb.lower()}: correct the rows marked below and press "
        f"{BATCH_BUTTONS[verb]} again.",
        messages.ERROR,
    )
    return False


def _form_pk(form) -> int | None:
    value = form["shipment"].value()
    return int(value) if str(value or "").isdigit() else None


class ShipmentStepsMixin:
    """Pack, ship, deliver and ship-from-CSV for `ShipmentAdmin`."""

    # ---- warehouse steps

    @admin.action(description="Mark packed", permissions=["fulfil"])
    def mark_packed(self, request, queryset: QuerySet[Shipment]):
        picking = list(
            queryset.filter(status=ShipmentStatus.PICKING)
            .select_related("order", "location")
            .order_by("number")
        )
        if not picking:
            self.message_user(
                request,
                "None of the selected shipments is being picked; only shipments "
                "on a pick list are packed.",
                messages.WARNING,
            )
            return None
        by_pk = {shipment.pk: shipment for shipment in picking}
        form_kwargs = {"shipment_ids": list(by_pk)}
        if "apply" in request.POST:
            formset = forms.PackRowFormSet(
                request.POST, prefix="pack", form_kwargs=form_kwargs
            )

            def pack(rows, versions):
                return shipments_pack(
                    parcels=[
                        Parcels(
                            shipment=by_pk[row["shipment"]],
                            packages=row["packages"],
                            weight_g=row["weight_g"],
                        )
                        for row in rows
                    ],
                    actor=request.user,
                    expected_versions=versions,
                )

            if _batch_apply(self, request, queryset, formset, pack, "Packed"):
                return None
        else:
            weights = selectors.shipment_weights_g(shipment_ids=list(by_pk))
            formset = forms.PackRowFormSet(
                prefix="pack",
                form_kwargs=form_kwargs,
                initial=[
                    {
                        "shipment": pk,
                        "packages": 1,
                        "weight_kg": Decimal(weights[pk]) / 1000,
                    }
                    for pk in by_pk
                ],
            )
        return _action_page(
            self,
            request,
            queryset,
            title="Mark shipments packed",
            action="mark_packed",
            template="admin/fulfillment/shipment/pack.html",
            rows=[(by_pk.get(_form_pk(form)), form) for form in formset.forms],
            formset=formset,
            skipped=len(queryset) - len(picking),
        )

    @admin.action(description="Ship (carrier and tracking)", permissions=["fulfil"])
    def ship(self, request, queryset: QuerySet[Shipment]):
        packed = list(
            queryset.filter(status=ShipmentStatus.PACKED)
            .select_related("order", "location", "postage")
            .order_by("number")
        )
        if not packed:
            self.message_user(
                request, "None of the selected shipments is packed.", messages.WARNING
            )
            return None
        by_pk = {shipment.pk: shipment for shipment in packed}
        carriers = selectors.carriers_active()
        form_kwargs = {"shipment_ids": list(by_pk), "carriers": carriers}
        if "apply" in request.POST:
            formset = forms.ShipRowFormSet(
                request.POST, prefix="ship", form_kwargs=form_kwargs
            )

            def ship(rows, versions):
                return shipments_ship(
                    handovers=[
                        ShipmentHandover(
                            shipment=by_pk[row["shipment"]],
                            carrier=row["carrier"],
                            service=row["service"],
                            tracking_number=row["tracking_number"],
                        )
                        for row in rows
                    ],
                    actor=request.user,
                    expected_versions=versions,
                )

            if _batch_apply(self, request, queryset, formset, ship, "Shipped"):
                return None
        else:
            carrier = selectors.carrier_default(carriers)
            formset = forms.ShipRowFormSet(
                prefix="ship",
                form_kwargs=form_kwargs,
                initial=[
                    {"shipment": pk, "carrier": carrier.pk if carrier else None}
                    for pk in by_pk
                ],
            )
        return _action_page(
            self,
            request,
            queryset,
            title="Ship packed shipments",
            action="ship",
            template="admin/fulfillment/shipment/ship.html",
            rows=[(by_pk.get(_form_pk(form)), form) for form in formset.forms],
            formset=formset,
            skipped=len(queryset) - len(packed),
        )

    @admin.action(description="Mark delivered", permissions=["fulfil"])
    def mark_delivered(self, request, queryset: QuerySet[Shipment]):
        done, errors = [], []
        for shipment in queryset.order_by("number"):
            try:
                shipment_deliver(shipment=shipment, actor=request.user)
                done.append(shipment.number)
            except DomainError as error:
                errors.append(str(error))
        _report(self, request, done, errors, "Delivered")

    def ship_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_fulfil_permission(request):
            raise PermissionDenied
        form = forms.ShipCsvForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                report = shipments_ship_many(
                    instructions=form.cleaned_data["instructions"],
                    refused_lines=form.cleaned_data["refused_lines"],
                    actor=request.user,
                )
            except BatchRefusedError as refused:
                errors = refused.errors
            else:
                _report(
                    self, request, [s.number for s in report.shipped], [], "Shipped"
                )
                return HttpResponseRedirect(
                    reverse("admin:fulfillment_shipment_changelist")
                )
        return TemplateResponse(
            request,
            "admin/fulfillment/shipment/ship_csv.html",
            {
                **self.admin_site.each_context(request),
                "title": "Ship from a CSV",
                "opts": self.model._meta,
                "form": form,
                **listed(errors),
            },
        )
