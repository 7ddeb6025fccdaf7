"""Returns fixtures: a shipped order to return from."""

import pytest


@pytest.fixture
def order(shipped, product):
    """A shipped order: 3 × product at 10.00, shipping 0, paid 30.00."""
    return shipped([(product, 3)])
