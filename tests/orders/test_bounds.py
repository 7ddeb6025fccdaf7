"""The one set of bounds (`orders.bounds`) in every intake: a CSV file's
preview and confirm, the admin's order form and edits, the services."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from orders.bounds import delivery_date_problem, placed_at_problem
from orders.exceptions import OrderError
from orders.models import ImportJob, Order
from orders.services.order_edits import order_update
from tests import factories
from tests.orders.test_import import catalogue, csv_bytes, nothing_written, row, run  # noqa: F401
from tests.orders.test_import_admin import manager_client, upload  # noqa: F401
from tests.orders.test_numbers import _admin_order_form

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "when",
    [
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2999, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1900, 1, 1, tzinfo=UTC),
        NOW + timedelta(days=366),
    ],
)
def test_placed_at_out_of_bounds_is_refused_with_what_to_do(when):
    assert "Check the year" in placed_at_problem(when, now=NOW)


@pytest.mark.parametrize(
    "when",
    [
        NOW,
        NOW + timedelta(days=364),
        NOW - timedelta(days=3000),
        datetime(2005, 1, 1, tzinfo=UTC),  # a shop's old orders, re-sent
    ],
)
def test_placed_at_within_bounds_is_taken(when):
    assert placed_at_problem(when, now=NOW) is None


def test_delivery_date_more_than_a_year_away_is_refused():
    today = date(2026, 12, 7)
    assert delivery_date_problem(date(2027, 12, 7), today=today) is None
    assert "within a year" in delivery_date_problem(date(9999, 12, 31), today=today)
    assert "within a year" in delivery_date_problem(date(2025, 12, 6), today=today)


@pytest.mark.django_db
@pytest.mark.parametrize("placed", ["9999-12-31", "0001-01-01 00:00", "2999-03-01"])
def test_csv_row_with_an_impossible_placed_at_is_refused_with_row_and_column(
    catalogue,  # noqa: F811
    placed,
):
    result = run(csv_bytes([row(), row(ref="A-2", placed_at=placed)]))

    assert not result.written and nothing_written()
    problems = [str(problem) for problem in result.problems]
    assert len(problems) == 1
    assert problems[0].startswith("row 3, column placed_at: ")
    assert "Check the year" in problems[0]


@pytest.mark.django_db
def test_admin_confirm_of_a_file_with_an_impossible_date_never_answers_500(
    manager_client,  # noqa: F811
    catalogue,  # noqa: F811
):
    data = csv_bytes([row(), row(ref="A-2", placed_at="9999-12-31")])

    response = upload(manager_client, data, partial="on")
    job = ImportJob.objects.get()
    preview = manager_client.get(response.url).content.decode()
    assert "row 3, column placed_at" in preview
    confirmed = manager_client.post(
        reverse("admin:orders_import_confirm", args=[job.pk])
    )

    assert confirmed.status_code == 302
    page = manager_client.get(confirmed.url).content.decode()
    assert "row 3, column placed_at" in page and "Check the year" in page
    assert list(Order.objects.values_list("external_id", flat=True)) == ["A-1"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "clock"), [("9999-12-31", "23:00:00"), ("0001-01-01", "00:00:00")]
)
def test_admin_order_form_refuses_an_impossible_placed_at_on_the_field(
    admin_client, product, day, clock
):
    channel = factories.ChannelFactory()
    customer = factories.CustomerFactory()
    form = {
        **_admin_order_form(channel, customer, product),
        "placed_at_0": day,
        "placed_at_1": clock,
    }

    response = admin_client.post(reverse("admin:orders_order_add"), form)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Check the year" in errors["placed_at"][0]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_order_edit_refuses_a_requested_delivery_date_years_away(place_order, product):
    order = place_order([(product, 1)], allocate=False)

    with pytest.raises(OrderError, match="within a year"):
        order_update(
            order=order,
            actor=None,
            changes={"requested_delivery_date": date(9999, 12, 31)},
        )

    order.refresh_from_db()
    assert order.requested_delivery_date is None


@pytest.mark.django_db
def test_order_create_refuses_a_placed_at_in_year_2999(place_order, product):
    with pytest.raises(OrderError, match="Check the year"):
        place_order([(product, 1)], placed_at=datetime(2999, 1, 1, tzinfo=UTC))
    assert not Order.objects.exists()
