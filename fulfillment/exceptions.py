from core.exceptions import DomainError


class FulfillmentError(DomainError):
    """A pick list, shipment or document cannot be made the way it was asked."""


class ShipmentStateError(FulfillmentError):
    """The shipment's status does not allow this step."""

    @classmethod
    def refuse(cls, shipment, verb: str, hint: str = "") -> "ShipmentStateError":
        """Return the error for a shipment whose status does not allow `verb`."""
        return cls(
            f"Shipment {shipment.number} is {shipment.get_status_display()} and "
            f"cannot be {verb}." + (f" {hint}" if hint else "")
        )


class ShipmentChangedError(FulfillmentError):
    """Shipments changed after the page that acts on them was opened."""

    def __init__(self, numbers: list[str]) -> None:
        self.numbers = sorted(numbers)
        super().__init__(
            f"{', '.join(self.numbers)} changed while you were working on it "
            "(someone else acted on it); nothing was done. Check and try again."
        )


class TrackingError(FulfillmentError):
    """Tracking updates that cannot be recorded; `errors` lists each problem."""

    def __init__(self, errors: list[str] | str, *, status: int = 400) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        # The HTTP answer for the carrier endpoint: 400 bad input, 404 unknown
        # tracking number, 409 a shipment that cannot take the update.
        self.status = status
        super().__init__(" ".join(self.errors))
