"""Parcels and addresses in EasyPost's terms: a shipment's parcel size
(from a chosen box, or from its products), the ship-from of a location and
the ship-to of an order."""

from collections.abc import Sequence
from typing import Any

from fulfillment.exceptions import FulfillmentError
from fulfillment.models.postage import Box, LocationPostage, ShipmentPostage

MM_PER_INCH = 25.4
GRAMS_PER_OUNCE = 28.349523125


def product_dimensions_mm(
    items: Sequence[tuple[int, int | None, int | None, int | None]],
) -> tuple[int, int, int] | None:
    """Return the size of a parcel holding `(quantity, length, width, height)`
    items: the longest and middle sides of the largest item, the smallest
    sides stacked. None when any item's size is unknown."""
    sides = []
    for quantity, *dimensions in items:
        if not all(dimensions):
            return None
        sides.append((quantity, sorted(dimensions, reverse=True)))
    if not sides:
        return None
    length = max(s[0] for _, s in sides)
    width = max(s[1] for _, s in sides)
    height = sum(quantity * s[2] for quantity, s in sides)
    return (length, width, height)


def box_for(
    boxes: Sequence[Box], dimensions: tuple[int, int, int] | None
) -> Box | None:
    """Return the smallest active box the contents fit in, if any."""
    if dimensions is None:
        return None
    wanted = sorted(dimensions, reverse=True)
    fitting = [
        box
        for box in boxes
        if box.active
        and all(
            inside <= outside
            for inside, outside in zip(
                wanted,
                sorted((box.length_mm, box.width_mm, box.height_mm), reverse=True),
                strict=True,
            )
        )
    ]
    return min(fitting, key=lambda box: box.volume, default=None)


def easypost_parcel(postage: ShipmentPostage, weight_g: int | None) -> dict[str, Any]:
    """Return the parcel EasyPost rates: inches and ounces."""
    parcel: dict[str, Any] = {
        "weight": round(max(weight_g or 0, 1) / GRAMS_PER_OUNCE, 1) or 0.1
    }
    if postage.dimensions_mm:
        length, width, height = postage.dimensions_mm
        parcel |= {
            "length": round(length / MM_PER_INCH, 1),
            "width": round(width / MM_PER_INCH, 1),
            "height": round(height / MM_PER_INCH, 1),
        }
    return parcel


def ship_from(settings: LocationPostage | None, location) -> dict[str, Any]:
    """Return a location's address as EasyPost's from_address."""
    if settings is None or not settings.street1:
        raise FulfillmentError(
            f"Location {location.code} has no postage address; fill it in under "
            "Fulfilment › Location postage settings."
        )
    return {
        "name": location.name,
        "company": settings.company,
        "street1": settings.street1,
        "street2": settings.street2,
        "city": settings.city,
        "state": settings.state,
        "zip": settings.zip,
        "country": str(location.country),
        "phone": settings.phone,
    }


def ship_to(order) -> dict[str, Any]:
    """Return an order's ship-to as EasyPost's to_address."""
    return {
        "name": order.ship_name,
        "company": order.ship_company,
        "street1": order.ship_address1,
        "street2": order.ship_address2,
        "city": order.ship_city,
        "state": order.ship_region,
        "zip": order.ship_postcode,
        "country": str(order.ship_country),
        "phone": order.ship_phone,
        "email": getattr(getattr(order, "customer", None), "email", "") or "",
    }
