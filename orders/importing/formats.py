"""The two input formats: the OMS's own CSV and Shopify's order export.

Each maps its columns onto the same internal field names, and says which
fields belong to the order (repeated or left blank on its other rows) and
which are required.
"""

from dataclasses import dataclass, field

from django.utils.translation import ngettext

from orders.importing.reader import ImportFileError

ORDER_FIELDS = (
    "channel",
    "placed_at",
    "email",
    "customer_name",
    "phone",
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_region",
    "ship_postcode",
    "ship_country",
    "ship_phone",
    "shipping_method",
    "currency",
    "shipping_amount",
    "tax_amount",
    "fulfillment_status",
    "cancelled_at",
    # Money as the shop means it, its payment state and the customer's note
    # (issue 27): read when a format names a column for them (`validate.
    # order_check`). Subtotal and the province name only serve to read a
    # Shopify export (orders.importing.shopify).
    "subtotal",
    "discount_amount",
    "discount_codes",
    "shipping_discount",
    "total",
    "prices_include_tax",
    "financial_status",
    "note",
    "note_attributes",
    "ship_region_name",
    # The order's id at its platform (Shopify's numeric id), which messages
    # such as a Shopify refund name it by.
    "platform_id",
)
LINE_FIELDS = ("sku", "quantity", "unit_price", "line_name")
# Optional line fields, read when a format names a column for them: the
# line's discount, its total after discounts, whether it ships (yes/no), the
# shop's id of the line.
LINE_MONEY_FIELDS = (
    "line_discount",
    "line_total",
    "requires_shipping",
    "line_external_id",
)


@dataclass(frozen=True)
class Format:
    code: str
    label: str
    # internal field -> column name in the file
    columns: dict[str, str]
    required: frozenset[str]
    # Fields only on an order's first row (the rest leave them blank).
    first_row_only: bool
    signature: frozenset[str] = field(default_factory=frozenset)


OMS = Format(
    code="oms",
    label="OMS order lines",
    columns={
        "external_id": "order_ref",
        "channel": "channel",
        "placed_at": "placed_at",
        "email": "customer_email",
        "customer_name": "customer_name",
        "phone": "customer_phone",
        "ship_name": "ship_name",
        "ship_company": "ship_company",
        "ship_address1": "ship_address1",
        "ship_address2": "ship_address2",
        "ship_city": "ship_city",
        "ship_region": "ship_region",
        "ship_postcode": "ship_postcode",
        "ship_country": "ship_country",
        "ship_phone": "ship_phone",
        "shipping_method": "shipping_method",
        "currency": "currency",
        "sku": "sku",
        "quantity": "quantity",
        "unit_price": "unit_price",
        "shipping_amount": "shipping_amount",
        "tax_amount": "tax_amount",
        # Optional: money as the shop means it, payment, notes, lines that
        # do not ship (docs/import.md).
        "discount_amount": "discount_amount",
        "discount_codes": "discount_codes",
        "shipping_discount": "shipping_discount",
        "total": "total",
        "prices_include_tax": "prices_include_tax",
        "financial_status": "financial_status",
        "note": "note",
        "line_name": "line_name",
        "line_discount": "line_discount",
        "line_total": "line_total",
        "requires_shipping": "requires_shipping",
        "line_external_id": "line_external_id",
    },
    required=frozenset(
        {
            "external_id",
            "email",
            "ship_name",
            "ship_address1",
            "ship_city",
            "ship_country",
            "sku",
            "quantity",
            "unit_price",
        }
    ),
    first_row_only=False,
    signature=frozenset({"order_ref", "sku"}),
)

SHOPIFY = Format(
    code="shopify",
    label="Shopify order export",
    columns={
        "external_id": "Name",
        "platform_id": "Id",
        "email": "Email",
        "placed_at": "Created at",
        "fulfillment_status": "Fulfillment Status",
        "cancelled_at": "Cancelled at",
        "currency": "Currency",
        "shipping_amount": "Shipping",
        "tax_amount": "Taxes",
        "shipping_method": "Shipping Method",
        "quantity": "Lineitem quantity",
        "line_name": "Lineitem name",
        "unit_price": "Lineitem price",
        "sku": "Lineitem sku",
        "customer_name": "Billing Name",
        "ship_name": "Shipping Name",
        "ship_address1": "Shipping Address1",
        "ship_address2": "Shipping Address2",
        "ship_company": "Shipping Company",
        "ship_city": "Shipping City",
        "ship_postcode": "Shipping Zip",
        "ship_region": "Shipping Province",
        "ship_country": "Shipping Country",
        "ship_phone": "Shipping Phone",
        "ship_region_name": "Shipping Province Name",
        "phone": "Phone",
        # Subtotal is after discounts; with Shipping, Taxes and Total it tells
        # whether the prices include the tax (orders.importing.shopify).
        "subtotal": "Subtotal",
        "total": "Total",
        "discount_amount": "Discount Amount",
        "discount_codes": "Discount Code",
        "financial_status": "Financial Status",
        "note": "Notes",
        "note_attributes": "Note Attributes",
        "line_discount": "Lineitem discount",
        "requires_shipping": "Lineitem requires shipping",
    },
    required=frozenset(
        {
            "external_id",
            "email",
            "quantity",
            "unit_price",
            "sku",
            "ship_name",
            "ship_address1",
            "ship_city",
            "ship_country",
        }
    ),
    first_row_only=True,
    signature=frozenset({"Name", "Lineitem sku", "Lineitem quantity"}),
)

FORMATS = {f.code: f for f in (OMS, SHOPIFY)}


def detect_format(header: list[str], requested: str = "auto") -> Format:
    """Recognise the format from the header row (or check the requested one)."""
    present = {column.strip() for column in header}
    present_lower = {column.lower() for column in present}
    if requested != "auto":
        if requested not in FORMATS:
            raise ImportFileError(
                f"Unknown format {requested!r}; use auto, " + ", ".join(FORMATS) + "."
            )
        chosen = FORMATS[requested]
    elif SHOPIFY.signature <= present:
        chosen = SHOPIFY
    elif {c.lower() for c in OMS.signature} <= present_lower:
        chosen = OMS
    else:
        raise ImportFileError(
            "The header row matches no known format. An OMS file needs the columns "
            + ", ".join(OMS.columns[f] for f in sorted(OMS.required))
            + "; a Shopify export starts with Name,Email,Financial Status,..."
        )
    lookup = present if chosen is SHOPIFY else present_lower
    missing = [
        chosen.columns[name]
        for name in sorted(chosen.required)
        if (chosen.columns[name] if chosen is SHOPIFY else chosen.columns[name].lower())
        not in lookup
    ]
    if missing:
        raise ImportFileError(
            ngettext(
                "The %(format)s file is missing a required column: %(columns)s. "
                "Add it to the header row.",
                "The %(format)s file is missing required columns: %(columns)s. "
                "Add them to the header row.",
                len(missing),
            )
            % {"format": chosen.label, "columns": ", ".join(missing)}
        )
    return chosen


def column_indexes(fmt: Format, header: list[str]) -> dict[str, int]:
    """Map each internal field of the format to its column index in this file."""
    if fmt is SHOPIFY:
        positions = {column.strip(): index for index, column in enumerate(header)}
        return {
            name: positions[column]
            for name, column in fmt.columns.items()
            if column in positions
        }
    positions = {column.strip().lower(): index for index, column in enumerate(header)}
    return {
        name: positions[column.lower()]
        for name, column in fmt.columns.items()
        if column.lower() in positions
    }
