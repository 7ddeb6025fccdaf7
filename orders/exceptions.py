from core.exceptions import DomainError


class OrderError(DomainError):
    """An order cannot be changed the way it was asked."""


class OrderStateError(OrderError):
    """The order's status does not allow this step."""


class OrderConflictError(OrderError):
    """Someone else changed the order since the editor loaded it."""
