"""The manager's import path on the orders list: upload, preview, confirm,
progress, result. Thin: the work is in `jobs` and `services`."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.jobs import job_reap, job_waiting_notice
from core.limits import fit_text
from orders.importing.jobs import (
    import_job_can_retry,
    import_job_confirm,
    import_job_preview,
    import_job_retry,
    import_job_runs_in_background,
)
from orders.importing.reader import ImportFileError
from orders.models import Channel, ImportJob

PERMISSION = "orders.import_orders"


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="A CSV file: the OMS order-line format (as in the sample file "
        "above) or a Shopify order export."
    )
    channel = forms.ModelChoiceField(
        queryset=Channel.objects.filter(active=True),
        required=False,
        help_text="For rows that name no channel (required for Shopify files).",
    )
    format = forms.ChoiceField(
        choices=[
            ("auto", "Recognise from the header"),
            ("oms", "OMS"),
            ("shopify", "Shopify"),
        ]
    )
    partial = forms.BooleanField(
        required=False,
        label="Import the valid orders even if others have errors",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.OMS_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"{upload.name} is {upload.size / 1_048_576:.1f} MB; the limit is "
                f"{limit / 1_048_576:.0f} MB. Split it into smaller files."
            )
        # The name is kept on the job and shown on the timeline: made storable.
        upload.name = fit_text(ImportJob._meta.get_field("filename"), upload.name)
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError(
                f"{upload.name} is not a .csv file. Export the orders as CSV and try again."
            )
        return upload


class OrderImportMixin:
    """Adds Import (with preview and confirm) to the order admin."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="orders_order_import"),
            path(
                "import/sample.csv",
                view(self.import_sample_view),
                name="orders_order_import_sample",
            ),
            path(
                "import/<int:job_id>/",
                view(self.import_job_view),
                name="orders_import_job",
            ),
            path(
                "import/<int:job_id>/confirm/",
                view(self.import_confirm_view),
                name="orders_import_confirm",
            ),
            path(
                "import/<int:job_id>/retry/",
                view(self.import_retry_view),
                name="orders_import_retry",
            ),
            path(
                "import/<int:job_id>/status/",
                view(self.import_status_view),
                name="orders_import_status",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        extra_context["has_import_permission"] = request.user.has_perm(PERMISSION)
        return super().changelist_view(request, extra_context)

    def _check(self, request: HttpRequest) -> None:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied

    def _render(self, request, template: str, **context) -> TemplateResponse:
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                **context,
            },
        )

    def import_sample_view(self, request: HttpRequest) -> HttpResponse:
        """Download a sample file in the OMS format, to copy from."""
        sample = settings.BASE_DIR / "docs" / "sample_orders.csv"
        response = HttpResponse(
            sample.read_bytes(), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="sample_orders.csv"'
        return response

    def import_view(self, request: HttpRequest) -> HttpResponse:
        self._check(request)
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = import_job_preview(
                    data=upload.read(),
                    filename=upload.name,
                    channel=form.cleaned_data["channel"],
                    format_code=form.cleaned_data["format"],
                    partial=form.cleaned_data["partial"],
                    actor=request.user,
                )
            except ImportFileError as error:
                form.add_error("file", str(error))
            else:
                return HttpResponseRedirect(
                    reverse("admin:orders_import_job", args=[job.pk])
                )
        return self._render(
            request,
            "admin/orders/order/import_form.html",
            title="Import orders",
            form=form,
        )

    def _job(self, request, job_id: int) -> ImportJob:
        self._check(request)
        job = get_object_or_404(ImportJob.objects.select_related("channel"), pk=job_id)
        # With no worker left to reap it, the page itself ends a dead run.
        if job_reap(job):
            job.refresh_from_db()
        return job

    def import_job_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        job = self._job(request, job_id)
        return self._render(
            request,
            "admin/orders/order/import_job.html",
            title=f"Import of {job.filename}",
            job=job,
            preview=job.preview,
            result=job.result,
            background=import_job_runs_in_background(job),
            waiting_notice=job_waiting_notice(job),
            can_retry=import_job_can_retry(job),
        )

    def import_retry_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        job = self._job(request, job_id)
        if request.method == "POST":
            if import_job_retry(job=job):
                self.message_user(
                    request, f"The import of {job.filename} is queued again."
                )
            else:
                self.message_user(
                    request,
                    f"The import of {job.filename} is {job.get_status_display().lower()}"
                    "; only a failed import can be retried.",
                    messages.WARNING,
                )
        return HttpResponseRedirect(reverse("admin:orders_import_job", args=[job.pk]))

    def import_confirm_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        job = self._job(request, job_id)
        if request.method == "POST":
            import_job_confirm(job=job)
        return HttpResponseRedirect(reverse("admin:orders_import_job", args=[job.pk]))

    def import_status_view(self, request: HttpRequest, job_id: int) -> JsonResponse:
        job = self._job(request, job_id)
        notice = job_waiting_notice(job)
        return JsonResponse(
            {
                "status": job.status,
                "stage": job.stage,
                "processed": job.processed,
                "total": job.total,
                "percent": job.percent,
                "summary": job.result.get("summary", ""),
                "error": job.error,
                "notice": notice,
                # The page stops polling: the job ended, or nothing will run it.
                "finished": job.status
                in (ImportJob.Status.DONE, ImportJob.Status.FAILED)
                or bool(notice),
            }
        )
