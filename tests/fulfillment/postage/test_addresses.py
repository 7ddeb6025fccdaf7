"""Address check before buying: a failed check holds the (packed) order
*address check* with EasyPost's message and drops the stale rates; fixed
and released, the shipment is rated and bought."""

import pytest

from fulfillment.exceptions import FulfillmentError
from fulfillment.models import ShipmentStatus
from fulfillment.models.postage import CarrierAccount, ShipmentPostage
from fulfillment.postage.addresses import AddressCheckFailed
from fulfillment.postage.buying import shipment_postage_buy
from fulfillment.postage.rates import shipment_rates_fetch
from orders.exceptions import OrderStateError
from orders.models import HoldReason, OrderEvent, OrderStatus
from orders.services.lifecycle import order_cancel, order_release


@pytest.fixture
def checking(easypost_carrier):
    CarrierAccount.objects.filter(carrier=easypost_carrier).update(
        verify_addresses=True
    )


def test_failed_check_holds_packed_order_with_easypost_message(
    packed, easypost, user, checking
):
    [shipment] = packed(1)
    order = shipment.order
    assert order.status == OrderStatus.PACKED
    order.ship_address1 = "1 Nowhere Lane"
    order.save(update_fields=["ship_address1"])
    rate_id = ShipmentPostage.objects.get(shipment=shipment).rates[0]["id"]
    with pytest.raises(AddressCheckFailed, match="Address not found"):
        shipment_postage_buy(shipment=shipment, actor=user, rate_id=rate_id)

    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    assert order.hold_reason == HoldReason.ADDRESS_CHECK
    assert order.held_from == OrderStatus.PACKED
    held = OrderEvent.objects.get(order=order, kind="held")
    assert "Address check" in held.message and "Address not found" in held.message
    postage = ShipmentPostage.objects.get(shipment=shipment)
    assert postage.status == ShipmentPostage.Status.NEW and postage.rates == []
    assert easypost.buys == {}
    # Held with packed parcels: not bought, not cancelled before release.
    with pytest.raises(FulfillmentError, match="on hold"):
        shipment_postage_buy(shipment=shipment, actor=user)
    with pytest.raises(OrderStateError):
        order_cancel(order=order, actor=user)

    # Fixed (an on-hold order's address may change) and released.
    order.ship_address1 = "417 Main St"
    order.save(update_fields=["ship_address1"])
    order = order_release(order=order, actor=user)
    assert order.status == OrderStatus.PACKED
    postage = shipment_rates_fetch(shipment_id=shipment.pk)
    postage = shipment_postage_buy(
        shipment=shipment, actor=user, rate_id=postage.rates[0]["id"]
    )
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.SHIPPED
    assert sum(easypost.buys.values()) == 1
    created = [
        body["shipment"]
        for call, body in zip(easypost.calls, easypost.bodies, strict=True)
        if call == ("POST", "/v2/shipments")
    ]
    assert created[-1]["to_address"]["street1"] == "417 Main St"
