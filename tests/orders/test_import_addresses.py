"""CSV import: countries by code or name, and addresses that fail their
country's rules imported on hold for an address check."""

import pytest

from orders.models import HoldReason, Order, OrderEvent, OrderStatus
from tests.orders.test_import import catalogue, csv_bytes, nothing_written, row, run

__all__ = ["catalogue"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("written", "code"),
    [("Germany", "DE"), ("DEU", "DE"), ("de", "DE"), ("GE", "GE")],
)
def test_country_by_code_or_name_is_stored_as_its_code(catalogue, written, code):
    berlin = {"ship_city": "Berlin", "ship_region": "", "ship_postcode": "10115"}
    if code == "GE":
        berlin = {"ship_city": "Tbilisi", "ship_region": "", "ship_postcode": "0105"}

    result = run(csv_bytes([row(ship_country=written, **berlin)]))

    assert result.written, result.problems
    assert Order.objects.get().ship_country == code


@pytest.mark.django_db
def test_unknown_country_code_is_refused_with_row_and_column(catalogue):
    result = run(csv_bytes([row(ship_country="XX")]))

    assert [str(p) for p in result.problems] == [
        "row 2, column ship_country: 'XX' is not a known country (use an ISO code "
        "like DE or DEU, or an English name like Germany)."
    ]
    assert nothing_written()


@pytest.mark.django_db
def test_address_failing_its_countrys_rules_is_imported_on_hold(catalogue):
    result = run(
        csv_bytes(
            [
                row(ref="A-1"),
                row(ref="A-2", ship_country="DE", ship_region="", ship_postcode="1011"),
            ]
        )
    )

    assert result.written and not result.problems
    assert result.held_for_address == [
        (3, "A-2", "'1011' is not a postcode in Germany (like 26133 or 53225).")
    ]
    assert "1 on hold for an address check" in result.summary()
    held = Order.objects.get(external_id="A-2")
    assert (held.status, held.hold_reason, held.held_from) == (
        OrderStatus.ON_HOLD,
        HoldReason.ADDRESS_CHECK,
        OrderStatus.PENDING,
    )
    event = OrderEvent.objects.get(order=held, kind=OrderEvent.Kind.HELD)
    assert event.message == (
        "Put on hold: Address check. '1011' is not a postcode in Germany "
        "(like 26133 or 53225)."
    )
    assert Order.objects.get(external_id="A-1").status == OrderStatus.PENDING
