"""Printing from the admin: documents now or as a background batch, and the
batches' progress and download pages."""

from collections.abc import Sequence

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin_utils import ReadOnlyAdminMixin, retry_report
from core.exceptions import DomainError
from core.files import file_response
from core.jobs import job_reap, job_waiting_notice, jobs_reap
from core.responses import pdf_response
from fulfillment import documents
from fulfillment.admin.base import PermissionsMixin
from fulfillment.models import DocumentKind, PrintJob, ShipmentStatus
from fulfillment.services.printing import (
    document_print_record,
    print_job_create,
    print_job_download,
    print_job_retry,
)

# Shipments that get a shipping label: packed, and every status after it.
LABEL_STATUSES = [
    ShipmentStatus.PACKED,
    ShipmentStatus.SHIPPED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.DELIVERED,
    ShipmentStatus.EXCEPTION,
]


def print_documents(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    kind: str,
    object_ids: Sequence[int],
) -> HttpResponse | None:
    """Answer with the PDF, or queue a background batch when it is large."""
    label = DocumentKind(kind).label.lower()
    if not object_ids:
        modeladmin.message_user(
            request,
            f"Nothing to print: no {label} fits the selection.",
            messages.WARNING,
        )
        return None
    if len(object_ids) > settings.OMS_DOCUMENT_BACKGROUND_FROM:
        job = print_job_create(kind=kind, object_ids=object_ids, actor=request.user)
        modeladmin.message_user(
            request,
            f"{len(object_ids)} {label}s are rendered in the background; download "
            "them here when the bar is full.",
            messages.INFO,
        )
        return HttpResponseRedirect(
            reverse("admin:fulfillment_printjob_progress", args=[job.pk])
        )
    try:
        rendered = documents.render(kind, object_ids)
    except DomainError as error:
        modeladmin.message_user(request, str(error), messages.ERROR)
        return None
    is_pick_list = kind == DocumentKind.PICK_LIST
    document_print_record(
        kind=kind,
        actor=request.user,
        shipment_ids=[] if is_pick_list else object_ids,
        pick_list_ids=object_ids if is_pick_list else [],
        pages=rendered.pages,
    )
    return pdf_response(rendered.pdf, rendered.filename)


@admin.register(PrintJob)
class PrintJobAdmin(PermissionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "pk",
        "kind",
        "status",
        "progress",
        "error",
        "attempts",
        "created_by",
        "created_at",
    ]
    list_filter = ["kind", "status"]
    list_select_related = ["created_by"]
    exclude = ["pdf", "object_ids"]
    actions = ["retry"]

    def changelist_view(self, request, extra_context=None):
        # Batches whose worker died show failed here even with no worker left.
        jobs_reap(models=[PrintJob])
        return super().changelist_view(request, extra_context)

    @admin.action(
        description="Retry the selected failed batches", permissions=["print"]
    )
    def retry(self, request: HttpRequest, queryset) -> None:
        retried = [job for job in queryset if print_job_retry(job=job)]
        retry_report(
            self,
            request,
            retried=len(retried),
            skipped=queryset.count() - len(retried),
            noun=("batch", "batches"),
            skipped_why="only failed batches can be.",
        )

    def get_queryset(self, request):
        return super().get_queryset(request).defer("pdf", "object_ids")

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_print_permission(request)

    def has_module_permission(self, request) -> bool:
        return self.has_print_permission(request)

    @admin.display(description="progress")
    def progress(self, obj: PrintJob) -> str:
        url = reverse("admin:fulfillment_printjob_progress", args=[obj.pk])
        return format_html('<a href="{}">{} of {}</a>', url, obj.done, obj.total)

    def get_urls(self):
        return [
            path(
                "<int:job_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="fulfillment_printjob_progress",
            ),
            path(
                "<int:job_id>/retry/",
                self.admin_site.admin_view(self.retry_view),
                name="fulfillment_printjob_retry",
            ),
            path(
                "<int:job_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="fulfillment_printjob_download",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if not self.has_print_permission(request):
            raise PermissionDenied
        job = get_object_or_404(PrintJob.objects.defer("pdf"), pk=job_id)
        # With no worker left to reap it, the page itself ends a dead run.
        if job_reap(job):
            job.refresh_from_db()
        notice = job_waiting_notice(job)
        return TemplateResponse(
            request,
            "admin/fulfillment/printjob/progress.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{job.get_kind_display()}s: batch {job.pk}",
                "opts": self.model._meta,
                "job": job,
                "waiting_notice": notice,
                # The page stops refreshing: the batch ended, or nothing runs it.
                "finished": job.status in (PrintJob.Status.DONE, PrintJob.Status.FAILED)
                or bool(notice),
            },
        )

    def retry_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if not self.has_print_permission(request):
            raise PermissionDenied
        job = get_object_or_404(PrintJob.objects.defer("pdf"), pk=job_id)
        if request.method == "POST":
            if print_job_retry(job=job):
                self.message_user(request, f"Batch {job.pk} is queued again.")
            else:
                self.message_user(
                    request,
                    f"Batch {job.pk} is {job.get_status_display().lower()}; only a "
                    "failed batch can be retried.",
                    messages.WARNING,
                )
        return HttpResponseRedirect(
            reverse("admin:fulfillment_printjob_progress", args=[job.pk])
        )

    def download_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if not self.has_print_permission(request):
            raise PermissionDenied
        job = get_object_or_404(PrintJob, pk=job_id)
        try:
            print_job_download(job=job, actor=request.user)
        except DomainError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:fulfillment_printjob_progress", args=[job.pk])
            )
        return file_response(
            model=PrintJob, field="pdf", name=job.pdf.name, filename=job.filename
        )
