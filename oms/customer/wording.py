"""Plain words for customers: what is happening to their order now, what
happens next, and what a problem on the way means for them."""

from dataclasses import dataclass

from fulfillment.models import ExceptionReason, ShipmentStatus
from orders.models import HoldReason, OrderStatus
from returns.models import ReturnStatus


@dataclass(frozen=True)
class NowAndNext:
    now: str
    next: str


ORDER_WORDS: dict[str, NowAndNext] = {
    OrderStatus.PENDING: NowAndNext(
        "We have your order and are getting it ready.",
        "We set your items aside in our warehouse.",
    ),
    OrderStatus.ALLOCATED: NowAndNext(
        "Your items are set aside for you in our warehouse.",
        "We pick and pack them, and hand the parcel to the carrier.",
    ),
    OrderStatus.BACKORDERED: NowAndNext(
        "Some of your items are not in stock yet; more are on their way to us.",
        "They are set aside for you as soon as they arrive, then we pack your parcel.",
    ),
    OrderStatus.PICKING: NowAndNext(
        "We are taking your items from the shelves.",
        "We pack them and hand the parcel to the carrier.",
    ),
    OrderStatus.PACKED: NowAndNext(
        "Your parcel is packed and waiting for the carrier.",
        "The carrier collects it; you get an e-mail with the tracking link.",
    ),
    OrderStatus.PARTIALLY_SHIPPED: NowAndNext(
        "Part of your order is on its way; the rest follows in another parcel.",
        "You get an e-mail with the tracking link of each parcel.",
    ),
    OrderStatus.SHIPPED: NowAndNext(
        "Your order is on its way to you.",
        "The carrier delivers it; each parcel's latest news is below.",
    ),
    OrderStatus.DELIVERED: NowAndNext(
        "Your order was delivered.",
        "Enjoy it. If something is not right, you can send items back below.",
    ),
    OrderStatus.ON_HOLD: NowAndNext(
        "We paused your order to check something.",
        "We carry on as soon as it is cleared, and write to you if we need anything.",
    ),
    OrderStatus.CANCELLED: NowAndNext(
        "Your order was cancelled.",
        "Nothing more happens; any payment goes back the way you paid.",
    ),
}

# Only what the customer can act on is named; other holds stay general.
HOLD_WORDS = {
    HoldReason.ADDRESS_CHECK: "We paused your order to check the delivery address.",
    HoldReason.PAYMENT: "We paused your order until the payment is confirmed.",
    HoldReason.CUSTOMER_REQUEST: "We paused your order as you asked.",
    HoldReason.OUT_OF_STOCK: "We paused your order while we wait for stock.",
}

SHIPMENT_WORDS = {
    ShipmentStatus.PENDING: "Being prepared in our warehouse",
    ShipmentStatus.PICKING: "Being prepared in our warehouse",
    ShipmentStatus.PACKED: "Packed, waiting for the carrier",
    ShipmentStatus.SHIPPED: "Handed to the carrier",
    ShipmentStatus.IN_TRANSIT: "On its way",
    ShipmentStatus.OUT_FOR_DELIVERY: "Out for delivery",
    ShipmentStatus.DELIVERED: "Delivered",
    ShipmentStatus.EXCEPTION: "A problem on the way",
}

# (what happened, what happens next) per problem the carrier reports.
EXCEPTION_WORDS: dict[str, tuple[str, str]] = {
    ExceptionReason.ADDRESS: (
        "The carrier could not deliver to the address.",
        "The carrier tries again or keeps the parcel for a few days. If the "
        "address needs correcting, write to us.",
    ),
    ExceptionReason.DAMAGED: (
        "The parcel was damaged on the way.",
        "The carrier checks it. If it cannot reach you in good shape, we send "
        "your items again or refund you.",
    ),
    ExceptionReason.DELAYED: (
        "The parcel is delayed.",
        "It is still coming to you; the new expected delivery is shown as soon "
        "as the carrier gives one.",
    ),
    ExceptionReason.LOST: (
        "The carrier cannot find the parcel.",
        "The carrier is searching for it. If it is not found within a few days, "
        "we send your items again or refund you.",
    ),
    ExceptionReason.RETURNED: (
        "The parcel is on its way back to us.",
        "When it arrives we contact you to send it again or refund you.",
    ),
    ExceptionReason.PICKUP: (
        "The parcel is waiting for you at a pickup point.",
        "Collect it with your tracking number soon; it goes back to us if "
        "nobody collects it.",
    ),
    ExceptionReason.OTHER: (
        "The carrier reported a problem with the parcel.",
        "We are looking into it with the carrier and will write to you.",
    ),
}

RETURN_WORDS = {
    ReturnStatus.REQUESTED: "We received your return request and will answer soon.",
    ReturnStatus.APPROVED: "Approved: print the return label and send the items back.",
    ReturnStatus.REJECTED: "We could not accept this return; our e-mail says why.",
    ReturnStatus.RECEIVED: "Your parcel arrived back with us; we are checking it.",
    ReturnStatus.INSPECTED: "Checked; your refund or exchange is on its way.",
    ReturnStatus.REFUNDED: "Refunded.",
    ReturnStatus.EXCHANGED: "Exchanged: the replacement has its own order.",
    ReturnStatus.CLOSED: "Closed.",
}


def order_words(*, status: str, hold_reason: str = "") -> NowAndNext:
    words = ORDER_WORDS.get(status, ORDER_WORDS[OrderStatus.PENDING])
    if status == OrderStatus.ON_HOLD and hold_reason in HOLD_WORDS:
        return NowAndNext(HOLD_WORDS[hold_reason], words.next)
    return words


# What happens next when a parcel on its way is past its expected day.
LATE_NEXT = (
    "Parcels often arrive a day or two after the expected date. We watch it "
    "with the carrier; if it has not arrived within three working days, we "
    "look into it with them and write to you."
)


def exception_words(reason: str) -> tuple[str, str]:
    return EXCEPTION_WORDS.get(reason, EXCEPTION_WORDS[ExceptionReason.OTHER])
