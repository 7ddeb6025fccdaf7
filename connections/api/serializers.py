"""What the API takes and gives, for its OpenAPI description.

The order body is checked by `connections.inbox.payload.payload_check` (the CSV
import's validator, with the models' limits), not here: these serializers
describe the shapes. Amounts are decimal strings ("19.90"); numbers are
accepted too.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

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
    email = serializers.CharField()
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
    sku = serializers.CharField()
    quantity = serializers.IntegerField(min_value=1)
    unit_price = AmountField()
    name = serializers.CharField(required=False, allow_blank=True)


class OrderIn(serializers.Serializer):
    external_id = serializers.CharField(
        help_text="The order's id in your shop; sending it again returns the "
        "order already made (200) instead of a second one."
    )
    placed_at = serializers.DateTimeField(required=False)
    currency = serializers.CharField(required=False, help_text="ISO 4217, e.g. EUR.")
    shipping_method = serializers.CharField(required=False, allow_blank=True)
    shipping_amount = AmountField(required=False)
    tax_amount = AmountField(required=False)
    customer = CustomerIn()
    shipping_address = AddressIn()
    lines = LineIn(many=True)


class CancelIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True)


class LineOut(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.CharField()
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
    subtotal = serializers.CharField()
    shipping_amount = serializers.CharField()
    tax_amount = serializers.CharField()
    total = serializers.CharField()
    shipping_method = serializers.CharField()
    shipping_address = AddressOut()
    lines = LineOut(many=True)
    shipments = ShipmentOut(many=True)


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
