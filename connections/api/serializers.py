"""What the API takes and gives, for its OpenAPI description.

The order body is checked by `connections.inbox.payload.payload_check` (the CSV
import's validator, with the models' limits), not here: these serializers
describe the shapes. Amounts are decimal strings ("19.90"); numbers are
accepted too.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders.models import FinancialStatus

AMOUNT = {
    "oneOf": [
        {"type": "string", "example": "19.90"},
        {"type": "number", "example": 19.9},
    ]
}


@extend_schema_field(AMOUNT)
class AmountField(serializers.CharField):
    pass


class CustomerIn(serializers.Serializer):
    email = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Required unless the customer or the shipping address has a "
        "phone; a customer without e-mail is sent no e-mails.",
    )
    name = serializers.CharField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)


class AddressIn(serializers.Serializer):
    name = serializers.CharField()
    company = serializers.CharField(required=False, allow_blank=True)
    address1 = serializers.CharField()
    address2 = serializers.CharField(required=False, allow_blank=True)
    city = serializers.CharField()
    region = serializers.CharField(
        required=False, allow_blank=True, help_text="State or province code."
    )
    postcode = serializers.CharField(required=False, allow_blank=True)
    country = serializers.CharField(help_text="ISO code (DE, DEU) or English name.")
    phone = serializers.CharField(required=False, allow_blank=True)


class LineIn(serializers.Serializer):
    sku = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="A product's SKU; may be empty on a line that does not ship.",
    )
    quantity = serializers.IntegerField(min_value=1)
    unit_price = AmountField(
        help_text="Per unit, before discounts; more places than cents are "
        "rounded half up (the line's total is computed from the price as sent)."
    )
    name = serializers.CharField(required=False, allow_blank=True)
    discount_amount = AmountField(
        required=False,
        help_text="The line's share of every discount (its own and the "
        "order's), default 0.",
    )
    total = AmountField(
        required=False,
        help_text="The line's total after its discounts, as the shop has it "
        "(kept exactly); default round(quantity × unit_price, 2) − discount_amount.",
    )
    requires_shipping = serializers.BooleanField(
        required=False,
        default=True,
        help_text="False for gift cards, digital and custom items: kept and "
        "counted in the totals, never reserved, picked or shipped.",
    )
    external_id = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The shop's id of the line or its product (named in errors).",
    )


class NoteAttribute(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.CharField(allow_blank=True)


class OrderIn(serializers.Serializer):
    external_id = serializers.CharField(
        help_text="The order's id in your shop; sending it again returns the "
        "order already made (200) instead of a second one."
    )
    placed_at = serializers.DateTimeField(required=False)
    currency = serializers.CharField(required=False, help_text="ISO 4217, e.g. EUR.")
    shipping_method = serializers.CharField(required=False, allow_blank=True)
    shipping_amount = AmountField(
        required=False, help_text="Shipping charged, before shipping discounts."
    )
    shipping_discount = AmountField(required=False, help_text="Default 0.")
    tax_amount = AmountField(required=False)
    discount_amount = AmountField(
        required=False,
        help_text="Every discount on the merchandise (the lines' and the "
        "order's); default: the lines' discounts added up.",
    )
    discount_codes = serializers.ListField(
        child=serializers.CharField(), required=False
    )
    prices_include_tax = serializers.BooleanField(
        required=False,
        default=False,
        help_text="True when the prices and the total already contain the tax.",
    )
    total = AmountField(
        required=False,
        help_text="What the customer pays as the shop states it. When it differs "
        "from the total computed here by any cent, the order is kept on hold "
        '("totals differ") with both figures on its timeline.',
    )
    financial_status = serializers.ChoiceField(
        choices=[*FinancialStatus.values, ""],
        required=False,
        help_text="The shop's payment state. A state the channel does not take "
        'in keeps the order on hold ("awaiting payment") without reserving '
        "stock; empty: taken as paid.",
    )
    note = serializers.CharField(required=False, allow_blank=True)
    note_attributes = NoteAttribute(many=True, required=False)
    customer = CustomerIn()
    shipping_address = AddressIn()
    lines = LineIn(many=True)


class CancelIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True)


class LineOut(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.CharField(help_text="Per unit, before discounts.")
    discount_amount = serializers.CharField()
    total = serializers.CharField(help_text="After the line's discounts.")
    requires_shipping = serializers.BooleanField()
    external_id = serializers.CharField()
    allocated = serializers.IntegerField(help_text="Reserved in stock now.")
    shipped = serializers.IntegerField()
    returned = serializers.IntegerField()


class ShipmentOut(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()
    status_text = serializers.CharField()
    carrier = serializers.CharField()
    service = serializers.CharField()
    tracking_number = serializers.CharField()
    tracking_url = serializers.CharField()
    estimated_delivery = serializers.DateField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    late = serializers.BooleanField()
    exception = serializers.CharField(
        help_text="What went wrong in transit, if anything."
    )
    last_news = serializers.CharField()


class AddressOut(AddressIn):
    pass


class OrderOut(serializers.Serializer):
    number = serializers.CharField()
    external_id = serializers.CharField()
    status = serializers.CharField()
    status_text = serializers.CharField(help_text="The status in plain words.")
    hold_reason = serializers.CharField()
    placed_at = serializers.DateTimeField()
    currency = serializers.CharField()
    subtotal = serializers.CharField(help_text="The merchandise after every discount.")
    discount_amount = serializers.CharField()
    discount_codes = serializers.ListField(child=serializers.CharField())
    shipping_amount = serializers.CharField()
    shipping_discount = serializers.CharField()
    tax_amount = serializers.CharField()
    prices_include_tax = serializers.BooleanField()
    total = serializers.CharField(help_text="As computed here.")
    stated_total = serializers.CharField(
        allow_null=True, help_text="As the shop stated it (null: not stated)."
    )
    financial_status = serializers.CharField()
    note = serializers.CharField()
    note_attributes = NoteAttribute(many=True)
    shipping_method = serializers.CharField()
    shipping_address = AddressOut()
    lines = LineOut(many=True)
    shipments = ShipmentOut(many=True)


class OrderFailedOut(serializers.Serializer):
    number = serializers.CharField(help_text="As answered when taken in, or empty.")
    external_id = serializers.CharField()
    status = serializers.CharField(help_text="Always failed.")
    status_text = serializers.CharField()
    error = serializers.CharField(help_text="Why the order could not be written.")
    failed_at = serializers.DateTimeField(allow_null=True)


class FieldError(serializers.Serializer):
    field = serializers.CharField(help_text="Path in the body, e.g. lines[1].sku.")
    message = serializers.CharField()


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField()
    errors = FieldError(many=True, required=False)


class LocationStock(serializers.Serializer):
    location = serializers.CharField()
    name = serializers.CharField()
    available = serializers.IntegerField()


class StockOut(serializers.Serializer):
    sku = serializers.CharField()
    available = serializers.IntegerField()
    locations = LocationStock(many=True)


class StockListOut(serializers.Serializer):
    results = StockOut(many=True)
    unknown_skus = serializers.ListField(child=serializers.CharField())
