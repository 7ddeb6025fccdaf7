from oms.exceptions import DomainError


class FulfilmentError(DomainError):
    """A pick list, shipment or document cannot be made the way it was asked."""


class ShipmentStateError(FulfilmentError):
    """The shipment's status does not allow this step."""
