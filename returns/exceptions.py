from core.exceptions import DomainError


class ReturnError(DomainError):
    """A return cannot be opened or changed the way it was asked."""


class ReturnStateError(ReturnError):
    """The return's status does not allow this step."""


class RefundError(DomainError):
    """A refund would break a rule (more than was paid, nothing to refund)."""


class ReturnChangedError(ReturnError):
    """The return changed after the page asking for this step was opened."""
