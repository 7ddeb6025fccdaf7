"""Reads for order pages."""

import re
from datetime import datetime

from django.db import models
from django.db.models import F, Func, Q, QuerySet, Value
from django.db.models.lookups import Exact

from core.lookups import Digits
from orders.models import Customer, Order

ORDER_NUMBER = re.compile(r"^SO-?\d+$", re.IGNORECASE)
PHONE = re.compile(r"^\+?[\d\s().-]{6,}$")


def order_search_q(term: str) -> Q:
    """What a search box term can mean, each part answered by an index:
    order number (SO-000123 or 123), channel reference (with or without the
    shop's "#"), customer e-mail (any case), phone (as typed or by its
    digits), or part of the customer's name."""
    term = term.strip()
    query = Q(external_id=term)
    upper = term.upper()
    if ORDER_NUMBER.match(upper):
        digits = upper.removeprefix("SO").lstrip("-")
        query |= Q(number=f"SO-{int(digits):06d}") | Q(number=upper)
    elif upper.isdigit():
        query |= Q(number=f"SO-{int(upper):06d}")
    if term.isdigit():
        # A shop's number typed without its sign (Shopify's "#1001").
        query |= Q(external_id=f"#{term}")
    if "@" in term:
        customers = Customer.objects.with_email_lower().filter(email_lower=term.lower())
        query |= Q(customer__in=_ids(customers))
    elif PHONE.match(term):
        # As typed, and by its digits alone ("+49 30 1234567" from
        # "4930 1234567"), each through its index.
        digits = re.sub(r"\D", "", term)
        phones = Customer.objects.filter(
            Q(phone=term) | Exact(Digits("phone"), Value(digits))
        )
        query |= (
            Q(ship_phone=term)
            | Q(Exact(Digits("ship_phone"), Value(digits)))
            | Q(customer__in=_ids(phones))
        )
    elif len(term) >= 3 and not any(ch.isdigit() for ch in term):
        names = Customer.objects.filter(name__icontains=term)
        query |= Q(customer__in=_ids(names))
    return query


def _ids(customers, limit: int = 500):
    """The matching customers' ids as literal values when they are few, so
    the planner sees how selective the search is; a subquery otherwise."""
    ids = list(customers.values_list("pk", flat=True)[: limit + 1])
    return ids if len(ids) <= limit else customers.values("pk")


class Row(Func):
    """A row value, `ROW(a, b)`: compared with another, PostgreSQL reads one
    range of an index on (a, b)."""

    function = "ROW"
    output_field = models.Field()


def orders_placed_before(
    queryset: QuerySet[Order], *, placed_at: datetime, pk: int
) -> QuerySet[Order]:
    """The orders of `queryset` after (placed_at, pk) in the newest-first
    order: one range of the (placed_at, id) index, however deep."""
    return queryset.alias(position=Row(F("placed_at"), F("pk"))).filter(
        position__lt=Row(Value(placed_at), Value(pk))
    )
