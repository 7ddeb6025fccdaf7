from core.exceptions import DomainError


class FulfilmentError(DomainError):
    """A pick list, shipment or document cannot be made the way it was asked."""


class ShipmentStateError(FulfilmentError):
    """The shipment's status does not allow this step."""


class TrackingError(FulfilmentError):
    """Tracking updates that cannot be recorded; `errors` lists each problem."""

    def __init__(self, errors: list[str] | str, *, status: int = 400) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        # The HTTP answer for the carrier endpoint: 400 bad input, 404 unknown
        # tracking number, 409 a shipment that cannot take the update.
        self.status = status
        super().__init__(" ".join(self.errors))
