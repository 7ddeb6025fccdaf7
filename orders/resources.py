"""Spreadsheet export of orders (django-import-export), safe to open in Excel."""

from import_export import fields, resources
from import_export.forms import SelectableFieldsExportForm

from core.formulas import escape_formula
from orders.models import Order


class OrderExportResource(resources.ModelResource):
    channel = fields.Field(attribute="channel__code", column_name="channel")
    customer_email = fields.Field(
        attribute="customer__email", column_name="customer_email"
    )
    customer_name = fields.Field(
        attribute="customer__name", column_name="customer_name"
    )
    status = fields.Field(attribute="get_status_display", column_name="status")
    discount_codes = fields.Field(column_name="discount_codes")

    class Meta:
        model = Order
        fields = (
            "number",
            "channel",
            "external_id",
            "status",
            "placed_at",
            "customer_email",
            "customer_name",
            "ship_name",
            "ship_company",
            "ship_address1",
            "ship_address2",
            "ship_city",
            "ship_region",
            "ship_postcode",
            "ship_country",
            "shipping_method",
            "currency",
            "subtotal",
            "discount_amount",
            "discount_codes",
            "shipping_amount",
            "shipping_discount",
            "tax_amount",
            "prices_include_tax",
            "total",
            "stated_total",
            "financial_status",
            "note",
        )
        export_order = fields

    def dehydrate_discount_codes(self, order: Order) -> str:
        return ", ".join(order.discount_codes)

    def export_field(self, field, instance, **kwargs):
        return escape_formula(super().export_field(field, instance, **kwargs))


class OrderExportForm(SelectableFieldsExportForm):
    """The export form with the first format (CSV) chosen from the start,
    instead of a blank choice to fill in first."""

    def _init_formats(self, formats):
        super()._init_formats(formats)
        field = self.fields["format"]
        field.choices = [choice for choice in field.choices if choice[0] != ""]
        field.initial = "0"
