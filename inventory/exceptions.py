from core.exceptions import DomainError


class StockError(DomainError):
    """A stock operation would break a rule (negative stock, over-allocation)."""
