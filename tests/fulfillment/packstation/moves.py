"""The pack station's moves in the tests: open a shipment here, scan, scan
everything."""

from fulfillment.services import packstation as station

HERE = "st-here"
THERE = "st-there"


def open_here(shipment, user, at=HERE, **options):
    return station.packstation_open(
        code=shipment.number, actor=user, station=at, **options
    )


def scan(shipment, user, code, at=HERE):
    return station.packstation_scan(
        shipment_id=shipment.pk, code=code, actor=user, station=at
    )


def full_scan(shipment, user):
    open_here(shipment, user)
    scan(shipment, user, "TEE-1")
    scan(shipment, user, "2*TEE-2")
    return scan(shipment, user, "3*TEE-3")
