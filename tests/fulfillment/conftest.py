"""Fixtures of the fulfillment tests (the shared ones live in tests/conftest.py)."""

from tests.support.tracking import parcel  # noqa: F401
