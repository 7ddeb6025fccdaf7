"""The base of every domain error: a message meant for the person at the screen."""


class DomainError(Exception):
    """A business rule refused the request; `str(error)` says why and what to do."""
