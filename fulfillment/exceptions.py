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


class BatchRefusedError(FulfillmentError):
    """An all-or-nothing batch that did nothing: `errors` lists every problem
    (in row order), `by_shipment` the problem of each refused shipment (pk)."""

    def __init__(
        self, errors: list[str], *, by_shipment: dict[int, str] | None = None
    ) -> None:
        self.errors = list(errors)
        self.by_shipment = dict(by_shipment or {})
        super().__init__(" ".join(self.errors) + " Nothing was done.")


class LabelDoesNotFitError(FulfillmentError):
    """Labels whose addresses do not fit a 4 × 6 in page even in small print."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = list(labels)
        which = "; ".join(self.labels)
        super().__init__(
            f"The label of {which} cannot be printed: its addresses do not fit on "
            "a 4 × 6 in label even in the smallest print, and a clipped label "
            "would not be delivered. Nothing was printed. Shorten the longest "
            "address lines (name, company, street) and print again."
        )

    def __reduce__(self):
        # Raised in a forked renderer, the error travels back pickled.
        return (type(self), (self.labels,))


class PackStationBusyError(FulfillmentError):
    """The shipment is open at another pack station; `holder` says whose."""

    def __init__(self, message: str, *, holder: str = "") -> None:
        self.holder = holder
        super().__init__(message)
