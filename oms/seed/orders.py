"""Demo orders walked to where the journey table says: allocated, held, cancelled, picking and on."""

import random

from oms.seed.data import FULFILMENT_TARGETS, JOURNEY
from orders.models import HoldReason, Order, OrderStatus
from orders.services.lifecycle import order_cancel, order_hold


def journey_pick(rng: random.Random) -> str:
    roll = rng.random()
    for state, share in JOURNEY:
        if roll < share:
            return state
        roll -= share
    return "allocated"


def order_walk(order: Order, target: str, rng: random.Random, users: dict) -> bool:
    """Take an order towards its end state; return True when the warehouse
    still has to take it further (pick lists, packing, shipping)."""
    service = users["service"]
    if target == "cancelled":
        order_cancel(order=order, actor=service, reason="Customer changed their mind")
        return False
    if target == "on_hold":
        reason = rng.choice(
            [HoldReason.ADDRESS_CHECK, HoldReason.PAYMENT, HoldReason.FRAUD_REVIEW]
        )
        if order.status in (
            OrderStatus.PENDING,
            OrderStatus.ALLOCATED,
            OrderStatus.BACKORDERED,
        ):
            order_hold(order=order, actor=service, reason=reason, note="Demo hold")
        return False
    return target in FULFILMENT_TARGETS and order.status == OrderStatus.ALLOCATED
