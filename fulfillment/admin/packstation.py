"""Fulfilment › Pack station: the scanner-driven page (its script is
static/admin/packstation.js) and the JSON endpoints it calls, plus the
scan record shown on the shipment page.

Thin: every endpoint calls `fulfillment.services.packstation` and answers
JSON; a domain error comes back as `{"ok": false, "error": ...}`.
"""

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.admin_utils import ReadOnlyInline
from core.exceptions import DomainError
from fulfillment.admin import postage as postage_admin
from fulfillment.admin.base import FULFIL, PRINT
from fulfillment.admin.printing import LABEL_STATUSES, print_documents
from fulfillment.admin.scanner import int_or_none, json_body, json_refused
from fulfillment.models import DocumentKind, PackClaim, PackScan, Shipment
from fulfillment.postage.labels import zpl_preferred
from fulfillment.services import packstation as station_services


class PackScanInline(ReadOnlyInline):
    """Every scan at the pack station, on the shipment page."""

    model = PackScan
    verbose_name = "pack station scan"
    verbose_name_plural = "pack station scans"
    fields = ["created_at", "user", "station", "kind", "code", "quantity", "result"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        # The scans are part of the shipment: whoever sees it sees them.
        return request.user.has_perm("fulfillment.view_shipment")

    @admin.display(description="result")
    def result(self, obj: PackScan) -> str:
        return "accepted" if obj.accepted else f"refused: {obj.reason}"


@admin.register(PackClaim)
class PackStationAdmin(admin.ModelAdmin):
    """The pack station page in place of a list of claims."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.has_perm(FULFIL)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("", view(self.station_view), name="fulfillment_packclaim_changelist"),
            path("open/", view(self.open_view), name="fulfillment_packstation_open"),
            path("scan/", view(self.scan_view), name="fulfillment_packstation_scan"),
            path(
                "missing/",
                view(self.missing_view),
                name="fulfillment_packstation_missing",
            ),
            path(
                "unshort/",
                view(self.unshort_view),
                name="fulfillment_packstation_unshort",
            ),
            path("pack/", view(self.pack_view), name="fulfillment_packstation_pack"),
            path(
                "<int:shipment_id>/state/",
                view(self.state_view),
                name="fulfillment_packstation_state",
            ),
            path(
                "<int:shipment_id>/progress/",
                view(self.progress_view),
                name="fulfillment_packstation_progress",
            ),
            path(
                "<int:shipment_id>/label/",
                view(self.label_view),
                name="fulfillment_packstation_label",
            ),
        ]

    def _check(self, request: HttpRequest, method: str = "POST") -> None:
        if not self.has_module_permission(request):
            raise PermissionDenied
        if request.method != method:
            raise PermissionDenied

    def station_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_module_permission(request):
            raise PermissionDenied
        urls = {
            name: reverse(f"admin:fulfillment_packstation_{name}")
            for name in ("open", "scan", "missing", "unshort", "pack")
        }
        for name in ("state", "progress", "label"):
            urls[name] = reverse(
                f"admin:fulfillment_packstation_{name}", args=[0]
            ).replace("/0/", "/{id}/")
        urls["shipment"] = reverse(
            "admin:fulfillment_shipment_change", args=[0]
        ).replace("/0/", "/{id}/")
        return TemplateResponse(
            request,
            "admin/fulfillment/packstation.html",
            {
                **self.admin_site.each_context(request),
                "title": "Pack station",
                "opts": self.model._meta,
                "urls": urls,
                "can_print": request.user.has_perm(PRINT),
            },
        )

    def _answer(self, request: HttpRequest, run) -> JsonResponse:
        self._check(request)
        try:
            return JsonResponse({"ok": True, **run(json_body(request))})
        except Shipment.DoesNotExist:
            return JsonResponse(
                {"ok": False, "error": "That shipment no longer exists."}, status=404
            )
        except DomainError as error:
            return json_refused(error)

    def _with_options(self, state: dict[str, Any]) -> dict[str, Any]:
        location_id = Shipment.objects.values_list("location_id", flat=True).get(
            pk=state["shipment"]["id"]
        )
        return {
            "state": state,
            "options": station_services.station_options(location_id=location_id),
        }

    def open_view(self, request: HttpRequest) -> JsonResponse:
        return self._answer(
            request,
            lambda body: self._with_options(
                station_services.packstation_open(
                    code=str(body.get("code", "")),
                    station=str(body.get("station", "")),
                    take_over=bool(body.get("take_over")),
                    actor=request.user,
                )
            ),
        )

    def scan_view(self, request: HttpRequest) -> JsonResponse:
        def run(body):
            outcome = station_services.packstation_scan(
                shipment_id=int_or_none(body.get("shipment"), "Shipment") or 0,
                code=str(body.get("code", "")),
                station=str(body.get("station", "")),
                actor=request.user,
            )
            return {
                "accepted": outcome.accepted,
                "message": outcome.message,
                "state": outcome.state,
                "slip": outcome.slip,
            }

        return self._answer(request, run)

    def missing_view(self, request: HttpRequest) -> JsonResponse:
        return self._answer(
            request,
            lambda body: {
                "state": station_services.packstation_missing(
                    shipment_id=int_or_none(body.get("shipment"), "Shipment") or 0,
                    station=str(body.get("station", "")),
                    actor=request.user,
                )
            },
        )

    def unshort_view(self, request: HttpRequest) -> JsonResponse:
        return self._answer(
            request,
            lambda body: {
                "state": station_services.packstation_short_undo(
                    shipment_id=int_or_none(body.get("shipment"), "Shipment") or 0,
                    station=str(body.get("station", "")),
                    actor=request.user,
                )
            },
        )

    def pack_view(self, request: HttpRequest) -> JsonResponse:
        def run(body):
            outcome = station_services.packstation_pack(
                shipment_id=int_or_none(body.get("shipment"), "Shipment") or 0,
                station=str(body.get("station", "")),
                actor=request.user,
                packages=str(body.get("packages", ""))[:40],
                weight=str(body.get("weight", ""))[:40],
                box_id=int_or_none(body.get("box"), "Box"),
                carrier_id=int_or_none(body.get("carrier"), "Carrier"),
                service=str(body.get("service", ""))[:64],
                tracking_number=str(body.get("tracking", ""))[:64],
            )
            return {
                "number": outcome.number,
                "shipment": outcome.shipment_id,
                "status": outcome.status,
                "buying": outcome.buying,
                "message": outcome.message,
            }

        return self._answer(request, run)

    def state_view(self, request: HttpRequest, shipment_id: int) -> JsonResponse:
        self._check(request, "GET")
        try:
            state = station_services.packstation_state(
                shipment_id=shipment_id, station=request.GET.get("station", "")
            )
        except Shipment.DoesNotExist:
            return JsonResponse(
                {"ok": False, "error": "That shipment no longer exists."}, status=404
            )
        except DomainError as error:
            return json_refused(error)
        return JsonResponse({"ok": True, **self._with_options(state)})

    def progress_view(self, request: HttpRequest, shipment_id: int) -> JsonResponse:
        self._check(request, "GET")
        try:
            progress = station_services.label_progress(shipment_id=shipment_id)
        except Shipment.DoesNotExist:
            return JsonResponse(
                {"ok": False, "error": "That shipment no longer exists."}, status=404
            )
        return JsonResponse({"ok": True, **progress})

    def label_view(self, request: HttpRequest, shipment_id: int) -> HttpResponse:
        """The shipment's label: ZPL downloaded when its location prints ZPL,
        else the PDF shown for printing; the print is logged."""
        if not request.user.has_perm(PRINT):
            raise PermissionDenied
        ready = Shipment.objects.filter(pk=shipment_id, status__in=LABEL_STATUSES)
        if not ready.exists():
            return HttpResponse(
                "This shipment has no label yet: pack it first.",
                status=404,
                content_type="text/plain; charset=utf-8",
            )
        if zpl_preferred([shipment_id]):
            response = postage_admin.labels_response(self, request, [shipment_id])
        else:
            response = print_documents(
                self,
                request,
                kind=DocumentKind.SHIPPING_LABEL,
                object_ids=[shipment_id],
            )
        if response is None:
            return HttpResponse(
                "The label could not be made; see the shipment's page.",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return response
