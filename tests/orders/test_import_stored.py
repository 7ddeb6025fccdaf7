"""What the import's preview accepts the write stores exactly
(property-based, values around every limit), and two imports of one file at
once end with the friendly message, not a crash."""

from decimal import Decimal

import pytest
from django.db import connections, transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orders.importing import services
from orders.importing.formats import OMS, SHOPIFY
from orders.importing.reader import ImportFileError
from orders.importing.services import orders_import
from orders.models import Channel, Customer, Order, OrderLine
from orders.money import cents
from tests.orders.test_import import catalogue, csv_bytes, row  # noqa: F401
from tests.support.races import fork_safely, reap

pytestmark = pytest.mark.usefixtures("catalogue")


def max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


# Any character a UTF-8 file can carry: controls, NUL, quotes, separators,
# line breaks, accents, emoji.
CHARACTERS = st.characters(codec="utf-8")


PLAIN = st.text(st.sampled_from("abcXYZ éü-'."), min_size=1, max_size=12).filter(
    str.strip
)


def text_around(length: int) -> st.SearchStrategy[str]:
    """Text just under, at and over `length`, or short text of any characters."""
    return st.one_of(
        st.integers(length - 2, length + 2).flatmap(
            lambda n: st.text(st.sampled_from("aé€𝄞 "), min_size=n, max_size=n)
        ),
        st.text(CHARACTERS, min_size=1, max_size=8),
    )


AMOUNT_NEAR_LIMIT = st.one_of(
    st.decimals(
        min_value=Decimal("9999999999.90"),
        max_value=Decimal("10000000000.10"),
        places=2,
    ).map(str),
    st.decimals(min_value=0, max_value=Decimal("20000000000"), places=3).map(str),
    st.sampled_from(
        ["9999999999.99", "10000000000", "1e10", "9.99999999999E+9", "0.001", "1E+30"]
    ),
)
PLAIN_AMOUNT = st.decimals(min_value=0, max_value=Decimal("99.99"), places=2).map(str)
QUANTITY_NEAR_LIMIT = st.one_of(
    st.integers(2147483640, 2147483650).map(str),
    st.sampled_from(["0", "0001", "9" * 30, "٣"]),
)
EMAIL_NEAR_LIMIT = st.one_of(
    st.integers(238, 244).map(lambda n: "a" * n + "@example.com"),
    st.text(CHARACTERS, min_size=1, max_size=6).map(lambda t: f"a{t}@example.com"),
)
TEXT_FIELDS = {
    "external_id": (Order, "external_id"),
    "customer_name": (Customer, "name"),
    "phone": (Customer, "phone"),
    **{
        f: (Order, f)
        for f in (
            "ship_name",
            "ship_address1",
            "ship_address2",
            "ship_city",
            "ship_region",
            "ship_postcode",
            "ship_phone",
            "shipping_method",
        )
    },
}
STRESSED = [*TEXT_FIELDS, "email", "shipping_amount", "tax_amount", "lines"]


@st.composite
def order_rows(draw) -> tuple:
    """One order of one or two lines, in either format, with up to two of its
    values pushed around their limits (all of them at once would almost
    never give an order the check accepts)."""
    fmt = draw(st.sampled_from([OMS, SHOPIFY]))
    stressed = draw(st.sets(st.sampled_from(STRESSED), min_size=1, max_size=2))
    values = {}
    for f, (model, name) in TEXT_FIELDS.items():
        near = text_around(max_length(model, name))
        values[f] = draw(near if f in stressed else PLAIN)
    values["email"] = draw(
        EMAIL_NEAR_LIMIT if "email" in stressed else st.just("Ada@Example.com")
    )
    for f in ("shipping_amount", "tax_amount"):
        values[f] = draw(AMOUNT_NEAR_LIMIT if f in stressed else PLAIN_AMOUNT)
    values.update(ship_country="US", currency="USD", placed_at="2026-11-20 10:00")
    quantity = QUANTITY_NEAR_LIMIT if "lines" in stressed else st.integers(1, 5)
    price = AMOUNT_NEAR_LIMIT if "lines" in stressed else PLAIN_AMOUNT
    lines = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["TSH-BLK-M", "CAP-OLV-OS"]),
                quantity.map(str),
                price,
            ),
            min_size=1,
            max_size=2,
        )
    )
    rows = []
    for sku, quantity_text, price_text in lines:
        line = {
            **values,
            "sku": sku,
            "quantity": quantity_text,
            "unit_price": price_text,
        }
        rows.append({fmt.columns[f]: v for f, v in line.items() if f in fmt.columns})
    header = [
        fmt.columns[f]
        for f in (*values, "sku", "quantity", "unit_price")
        if f in fmt.columns
    ]
    return fmt, header, rows, values


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(example=order_rows())
def test_what_the_preview_accepts_the_write_stores_exactly(example):
    fmt, header, rows, values = example
    data = csv_bytes(rows, header=header)
    web = Channel.objects.get(code="web")

    try:
        preview = orders_import(data=data, actor=None, channel=web, dry_run=True)
    except ImportFileError:
        return  # the file as a whole was refused: nothing to write
    if not preview.orders:
        assert preview.problems or preview.skipped_by_channel
        event("refused by the check")
        return
    event("accepted by the check")

    with transaction.atomic():
        result = orders_import(data=data, actor=None, channel=web)

        assert result.written and result.orders == 1, result.problems
        order = Order.objects.get(pk=result.order_ids[0])
        postcode = values["ship_postcode"].strip()
        if fmt is SHOPIFY:
            postcode = postcode.lstrip("'")
        assert order.external_id == values["external_id"].strip()
        assert order.ship_name == values["ship_name"].strip()
        assert order.ship_city == values["ship_city"].strip()
        assert order.ship_postcode == postcode
        assert order.customer.email == values["email"].strip().lower() or (
            order.customer.email.lower() == values["email"].strip().lower()
        )
        stored = list(
            OrderLine.objects.filter(order=order)
            .order_by("pk")
            .values_list("quantity", "unit_price")
        )
        expected = [
            (int(r[fmt.columns["quantity"]]), Decimal(r[fmt.columns["unit_price"]]))
            for r in rows
        ]
        # Prices and order amounts are kept in cents, rounded half up; a
        # line's total is computed from the price as sent (issue 27).
        assert stored == [(q, cents(p)) for q, p in expected]
        assert order.total == sum(cents(q * p) for q, p in expected) + (
            cents(Decimal(values["shipping_amount"]))
            + cents(Decimal(values["tax_amount"]))
        )
        transaction.set_rollback(True)


def _import_after_both_checked(data: bytes, barrier, outcomes) -> None:
    """Import in a child process once both processes have checked the file."""
    resolve = services.orders_resolve

    def resolve_then_wait(*args, **kwargs):
        resolve(*args, **kwargs)
        barrier.wait()  # both have seen that none of the orders exists yet

    services.orders_resolve = resolve_then_wait
    try:
        result = orders_import(data=data, actor=None)
        outcomes.put(f"written {result.orders}")
    except ImportFileError as error:
        outcomes.put(f"refused: {error}")
    except Exception as error:  # the test reports it instead of hanging
        outcomes.put(f"crashed: {type(error).__name__}: {error}")
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_give_the_friendly_message():
    data = csv_bytes([row(ref="C-1"), row(ref="C-2", customer_email="g@example.com")])
    # Children open their own connections, never share the parent's.
    context = fork_safely()
    barrier = context.Barrier(2, timeout=60)
    outcomes = context.Queue()
    workers = [
        context.Process(
            target=_import_after_both_checked, args=(data, barrier, outcomes)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        results = sorted(outcomes.get(timeout=90) for _ in workers)
    finally:
        reap(workers)

    assert results == [
        "refused: Some of these orders were created by another import at the same "
        "time; nothing was written. Run the import again: orders already in the "
        "system will be skipped.",
        "written 2",
    ]
    assert Order.objects.count() == 2
    assert Customer.objects.count() == 2
