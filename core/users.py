"""Who did it: the user behind a service call, for timelines and history."""

from django.contrib.auth.models import AbstractBaseUser

Actor = AbstractBaseUser | None


def acting_user(actor: Actor):
    """Return the user to record for `actor`, or None for the system or anonymous."""
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor
    return None
