"""A property of the order API on PostgreSQL: whatever it answers 201 to,
the worker writes (issue 28). Bodies are generated with extreme dates, big
quantities, long and unicode text and prices with many decimals; a refusal
is a 4xx with a JSON message, never a 5xx."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connections.inbox import draining
from connections.models import InboundMessage
from orders.models import Order
from tests.connections.test_api_intake import api as api  # noqa: F401 - fixture
from tests.connections.test_api_intake_speed import (  # noqa: F401 - fixture
    database_queue as database_queue,
)

_ids = itertools.count()

# Printable text of any script (letters, marks, symbols, emoji), and text
# with anything at all in it (controls, line breaks, NUL).
printable = st.text(
    alphabet=st.characters(categories=("L", "M", "N", "P", "S", "Zs")),
    min_size=1,
    max_size=220,
)
anything = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=260
)
text = st.one_of(printable, printable, anything)
amount = st.one_of(
    st.decimals(min_value=0, max_value=10**11, places=2).map(str),
    st.decimals(min_value=0, max_value=10**5, places=7).map(str),
    st.decimals(
        min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False
    ).map(str),
    st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.integers(min_value=-1, max_value=10**14),
    st.sampled_from(["0.004999", "1e3", "9999999999.99", "9999999999.995", "-1"]),
)
# Instants near now, where the bounds lie; any instant from year 1 to 9999,
# as a shop might (mis)write it.
near_now = st.integers(min_value=-800, max_value=800).map(
    lambda days: (timezone.now() + timedelta(days=days)).isoformat()
)
placed_at = st.one_of(
    near_now,
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.just(UTC),
    ).map(lambda when: when.isoformat()),
    st.sampled_from(
        [
            "9999-12-30T12:00:00Z",
            "9999-12-31T23:59:59-05:00",
            "9999-12-31",
            "0001-01-01T00:00:00+05:00",
            "0001-01-01",
            "2999-01-01",
            "yesterday",
        ]
    ),
)
quantity = st.one_of(
    st.integers(min_value=1, max_value=1000),
    st.integers(min_value=-3, max_value=2**40),
    st.sampled_from([2147483647, 2147483648, "3"]),
)
# Each generated body is a valid order with a few of its values replaced by
# extreme ones (most of them still within the bounds).
CHANGES = {
    "currency": st.sampled_from(["EUR", "usd", "XX", "JPY"]),
    "shipping_method": text,
    "shipping_amount": amount,
    "tax_amount": amount,
    "discount_amount": amount,
    "total": amount,
    "note": st.one_of(text, st.text(min_size=4990, max_size=5010)),
    "discount_codes": st.lists(text, max_size=3),
    "customer.name": text,
    "customer.phone": text,
    "customer.email": st.sampled_from(["ZOË@example.com", "nope", "", "a@b.co"]),
    "shipping_address.name": text,
    "shipping_address.company": text,
    "shipping_address.address1": text,
    "shipping_address.city": text,
    "shipping_address.postcode": st.one_of(text, st.just("78701-1234")),
    "shipping_address.country": st.sampled_from(["DE", "ZZ", "United States", ""]),
    "lines.quantity": quantity,
    "lines.unit_price": amount,
    "lines.name": text,
    "lines.discount_amount": amount,
    "lines.total": amount,
    "lines.sku": st.sampled_from(["NOPE", ""]),
}


@st.composite
def body(draw) -> dict:
    generated = {
        "currency": "USD",
        "customer": {"email": "ann@example.com", "name": "Ann Lee"},
        "shipping_address": {
            "name": "Ann Lee",
            "address1": "1 Main St",
            "city": "Austin",
            "region": "TX",
            "postcode": "78701",
            "country": "US",
        },
        "lines": [
            {"sku": "TSH-BLK-M", "quantity": 1, "unit_price": "19.90"}
            for _ in range(draw(st.integers(1, 3)))
        ],
    }
    # Every other body says when it was placed, often at the ends of time.
    if draw(st.booleans()):
        generated["placed_at"] = draw(placed_at)
    for name in draw(st.lists(st.sampled_from(sorted(CHANGES)), max_size=3)):
        value = draw(CHANGES[name])
        part, _, key = name.rpartition(".")
        if part == "lines":
            for line in generated["lines"]:
                line[key] = value
        elif part:
            generated[part][key] = value
        else:
            generated[key] = value
    return generated


@pytest.fixture
def post_and_drain(api, channel):  # noqa: F811
    # Days of handling: the ship-by date is counted in working days past
    # `placed_at`, as the writer does for most shops.
    channel.handling_days = 3
    channel.save(update_fields=["handling_days"])

    def run(generated: dict):
        external_id = f"P-{next(_ids)}"
        response = api("post", "orders", {"external_id": external_id, **generated})
        return external_id, response

    return run


@given(generated=body())
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_whatever_the_api_takes_in_the_worker_writes(
    post_and_drain,
    api,  # noqa: F811
    generated,
):
    external_id, response = post_and_drain(generated)

    assert response.status_code < 500, response.content[:500]
    event(f"answered {response.status_code}")
    answer = response.json()
    if response.status_code == 201:
        draining.inbound_drain()
        message = InboundMessage.objects.get(external_id=external_id)
        assert message.status == InboundMessage.Status.PROCESSED, message.error
        written = api("get", f"orders/{external_id}")
        assert written.status_code == 200
        assert written.json()["status"] != "failed", written.json()
        assert written.json()["number"] == answer["number"]
        assert Order.objects.filter(external_id=external_id).exists()
    else:
        assert 400 <= response.status_code < 500
        assert isinstance(answer.get("detail"), str) and answer["detail"]
