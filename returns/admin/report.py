"""The returns report: return rates by reason, channel and product, with
charts and a CSV download. A page of the returns list (`report/`)."""

import csv

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path

from core.charts import horizontal_bars
from core.formulas import escape_formula
from returns import forms, selectors
from returns.admin.pages import REPORT, admin_page


class ReturnsReportAdminMixin:
    """Adds the report page to an admin (the returns list)."""

    def get_urls(self):
        return [
            path(
                "report/",
                self.admin_site.admin_view(self.report_view),
                name="returns_returnrequest_report",
            ),
            *super().get_urls(),
        ]

    def report_view(self, request: HttpRequest) -> HttpResponse:
        """Show the report for a range of order dates, or its CSV."""
        if not request.user.has_perm(REPORT):
            raise PermissionDenied
        start, end = forms.ReportForm.default_range()
        form = forms.ReportForm(
            request.GET if "start" in request.GET else None,
            initial={"start": start, "end": end},
        )
        if form.is_bound and form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        report = selectors.returns_report(start=start, end=end)
        if request.GET.get("format") == "csv" and (
            not form.is_bound or form.is_valid()
        ):
            return report_csv(report)
        units = ("unit", "units")
        charts = [
            horizontal_bars(
                [(row.label, row.returned_units) for row in report.by_reason],
                title="Returned units by reason",
                unit=units,
                value_label="units returned",
                width=640,
                heading="h3",
            ),
            horizontal_bars(
                [(row.label, float(row.rate or 0)) for row in report.by_channel],
                title="Return rate by channel (returned / shipped units)",
                unit=" %",
                value_label="% of shipped units returned",
                width=640,
                heading="h3",
            ),
            horizontal_bars(
                [(row.key, row.returned_units) for row in report.by_product[:10]],
                title="Most returned products",
                unit=units,
                value_label="units returned",
                width=640,
                heading="h3",
            ),
        ]
        query = request.GET.copy()
        query["start"], query["end"], query["format"] = start, end, "csv"
        return admin_page(
            self,
            request,
            "admin/returns/returnrequest/report.html",
            "Returns report",
            form=form,
            report=report,
            charts=charts,
            csv_query=query.urlencode(),
            products=report.by_product[:50],
        )


def report_csv(report: selectors.ReturnsReport) -> HttpResponse:
    """Return the report as a CSV download, every cell safe from formulas."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="returns-{report.start}-to-{report.end}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(
        [
            "group",
            "key",
            "label",
            "shipped_units",
            "returned_units",
            "returns",
            "return_rate_percent",
        ]
    )
    writer.writerow(
        [
            "total",
            "",
            f"orders placed {report.start} to {report.end}",
            report.shipped_units,
            report.returned_units,
            report.returns,
            report.rate if report.rate is not None else "",
        ]
    )
    for group, rows in (
        ("reason", report.by_reason),
        ("channel", report.by_channel),
        ("product", report.by_product),
    ):
        for row in rows:
            writer.writerow(
                [
                    escape_formula(value)
                    for value in (
                        group,
                        row.key,
                        row.label,
                        row.shipped_units if group != "reason" else "",
                        row.returned_units,
                        row.returns,
                        row.rate if row.rate is not None and group != "reason" else "",
                    )
                ]
            )
    return response
