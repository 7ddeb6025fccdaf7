"""Confirm picks: the scanner-driven page of a pick list whose location
confirms picks (its script is static/admin/pickconfirm.js) and the JSON
endpoints it calls, plus the scan record shown on the pick list's page.

Thin: every endpoint calls `fulfillment.services.pickconfirm` and answers
JSON; a domain error comes back as `{"ok": false, "error": ...}`. The views
hang off the pick list admin (`PickListAdmin.get_urls`).
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.admin_utils import ReadOnlyInline
from core.exceptions import DomainError
from fulfillment.admin.base import FULFIL
from fulfillment.admin.scanner import int_or_none, json_body, json_refused
from fulfillment.models import PickList, PickScan
from fulfillment.services import pickconfirm as services


class PickScanInline(ReadOnlyInline):
    """Every scan confirming the pick list, on its page."""

    model = PickScan
    verbose_name = "pick confirmation scan"
    verbose_name_plural = "pick confirmation scans"
    fields = [
        "created_at",
        "user",
        "kind",
        "code",
        "bin",
        "shipment",
        "quantity",
        "result",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "shipment")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("fulfillment.view_picklist")

    @admin.display(description="result")
    def result(self, obj: PickScan) -> str:
        return "accepted" if obj.accepted else f"refused: {obj.reason}"


def _check(request: HttpRequest, method: str) -> None:
    if not (request.user.is_active and request.user.has_perm(FULFIL)):
        raise PermissionDenied
    if request.method != method:
        raise PermissionDenied


def _answer(request: HttpRequest, run, method: str = "POST") -> JsonResponse:
    _check(request, method)
    try:
        body = json_body(request) if method == "POST" else {}
        return JsonResponse({"ok": True, **run(body)})
    except PickList.DoesNotExist:
        return JsonResponse(
            {"ok": False, "error": "That pick list no longer exists."}, status=404
        )
    except DomainError as error:
        return json_refused(error)


def confirm_urls(model_admin) -> list:
    """The confirmation page and its endpoints, under a pick list."""
    view = model_admin.admin_site.admin_view

    def page(request: HttpRequest, pick_list_id: int) -> HttpResponse:
        _check(request, "GET")
        pick_list = get_object_or_404(
            PickList.objects.select_related("location"), pk=pick_list_id
        )
        base = "admin:fulfillment_picklist_confirm"
        urls = {
            name: reverse(f"{base}_{name}", args=[pick_list.pk])
            for name in ("state", "scan", "short", "finish")
        }
        urls["pick_list"] = reverse(
            "admin:fulfillment_picklist_change", args=[pick_list.pk]
        )
        return TemplateResponse(
            request,
            "admin/fulfillment/pickconfirm.html",
            {
                **model_admin.admin_site.each_context(request),
                "title": f"Confirm picks · {pick_list.number}",
                "opts": PickList._meta,
                "original": pick_list,
                "urls": urls,
                "enabled": pick_list.location.confirm_picks,
            },
        )

    def state(request: HttpRequest, pick_list_id: int) -> JsonResponse:
        return _answer(
            request,
            lambda body: {
                "state": services.pick_confirm_state(pick_list_id=pick_list_id)
            },
            method="GET",
        )

    def scan(request: HttpRequest, pick_list_id: int) -> JsonResponse:
        def run(body):
            outcome = services.pick_confirm_scan(
                pick_list_id=pick_list_id,
                code=str(body.get("code", "")),
                actor=request.user,
            )
            return {
                "accepted": outcome.accepted,
                "message": outcome.message,
                "state": outcome.state,
            }

        return _answer(request, run)

    def short(request: HttpRequest, pick_list_id: int) -> JsonResponse:
        def run(body):
            outcome = services.pick_confirm_short(
                pick_list_id=pick_list_id,
                shipment_id=int_or_none(body.get("shipment"), "Shipment") or 0,
                order_line_id=int_or_none(body.get("order_line"), "Line") or 0,
                actor=request.user,
            )
            return {"message": outcome.message, "state": outcome.state}

        return _answer(request, run)

    def finish(request: HttpRequest, pick_list_id: int) -> JsonResponse:
        def run(body):
            outcome = services.pick_confirm_finish(
                pick_list_id=pick_list_id, actor=request.user
            )
            return {
                "message": outcome.message,
                "remainders": outcome.remainders,
                "state": outcome.state,
            }

        return _answer(request, run)

    prefix = "<int:pick_list_id>/confirm/"
    return [
        path(prefix, view(page), name="fulfillment_picklist_confirm"),
        path(prefix + "state/", view(state), name="fulfillment_picklist_confirm_state"),
        path(prefix + "scan/", view(scan), name="fulfillment_picklist_confirm_scan"),
        path(prefix + "short/", view(short), name="fulfillment_picklist_confirm_short"),
        path(
            prefix + "finish/", view(finish), name="fulfillment_picklist_confirm_finish"
        ),
    ]
