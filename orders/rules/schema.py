"""What each rule condition and action accepts, and the checks on it.

The admin's forms and the engine share these: a condition or action that
passes `condition_parse` / `action_parse` is one the engine can run, and a
refused one gets a message naming what to write instead.
"""

import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext
from django_countries import countries

from core.limits import decimal_problem, integer_range
from inventory.models import Product
from orders.models import (
    HoldReason,
    Order,
    OrderLine,
    OrderTag,
    RatePreference,
    RuleAction,
    RuleCondition,
)

Op = RuleCondition.Operator

LIST_OPS = (Op.IS, Op.IS_NOT)
PREFIX_OPS = (Op.STARTS_WITH, Op.NOT_STARTS_WITH)
SET_OPS = (Op.CONTAINS, Op.NOT_CONTAINS)
NUMBER_OPS = (Op.GTE, Op.GT, Op.LTE, Op.LT, Op.EQ)
YES_NO = (Op.YES, Op.NO)

# The operators each condition takes, and the kind of value it compares.
OPERATORS: dict[str, tuple[tuple[str, ...], str]] = {
    RuleCondition.Field.CHANNEL: (LIST_OPS, "codes"),
    RuleCondition.Field.SHIP_COUNTRY: (LIST_OPS, "countries"),
    RuleCondition.Field.SHIP_REGION: (LIST_OPS, "words"),
    RuleCondition.Field.POSTCODE: (PREFIX_OPS + LIST_OPS, "postcodes"),
    RuleCondition.Field.TOTAL: (NUMBER_OPS, "money"),
    RuleCondition.Field.ITEM_COUNT: (NUMBER_OPS, "count"),
    RuleCondition.Field.WEIGHT: (NUMBER_OPS, "count"),
    RuleCondition.Field.SKU: (SET_OPS, "words"),
    RuleCondition.Field.PRODUCT_TAG: (SET_OPS, "words"),
    RuleCondition.Field.EMAIL: (LIST_OPS + PREFIX_OPS, "words"),
    RuleCondition.Field.EMAIL_DOMAIN: (LIST_OPS, "domains"),
    RuleCondition.Field.FIRST_ORDER: (YES_NO, "none"),
    RuleCondition.Field.SHIPPING_METHOD: (LIST_OPS + PREFIX_OPS, "words"),
    RuleCondition.Field.DELIVERY_WITHIN: ((Op.LTE, Op.GT), "count"),
    RuleCondition.Field.ADDRESS_FAILED: (YES_NO, "none"),
    RuleCondition.Field.ORDER_TAG: (SET_OPS, "words"),
}

PRIORITIES = {label.lower(): value for value, label in Order.Priority.choices}
# A rate preference by its value ("by_date") or its label, any case.
RATE_PREFERENCES = {value: value for value in RatePreference.values} | {
    label.lower(): value for value, label in RatePreference.choices
}
POSTAGE_EXAMPLE = "“USPS Priority” or “UPS / Ground”"

# "Requested delivery within" looks this many days ahead at most: two years,
# far past any delivery date a shop takes, and far inside what a date can be.
DELIVERY_DAYS_MAX = 730
# A whole number is written with the digits 0-9 only: `str.isdigit` and `int`
# also take "²" or "٣", which no one means in a rule.
WHOLE_NUMBER = re.compile(r"[0-9]+", re.ASCII)
AMOUNT = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", re.ASCII)


@functools.cache
def count_limits() -> dict[str, int]:
    """The largest value each whole-number condition compares with: the
    column its fact is counted from (an order line's quantity, a product's
    grams), or the days "Requested delivery within" may look ahead."""
    return {
        RuleCondition.Field.ITEM_COUNT: integer_range(
            OrderLine._meta.get_field("quantity")
        )[1],
        RuleCondition.Field.WEIGHT: integer_range(Product._meta.get_field("weight_g"))[
            1
        ],
        RuleCondition.Field.DELIVERY_WITHIN: DELIVERY_DAYS_MAX,
    }


class RuleSchemaError(ValueError):
    """A condition or action that cannot run; the message says why."""


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    value: Any  # frozenset / tuple of str, Decimal, int or None


@dataclass(frozen=True)
class Action:
    kind: str
    value: Any
    note: str = ""
    location_id: int | None = None
    location_code: str = ""


def _words(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


def _label(choices, value: str) -> str:
    return dict(choices.choices).get(value, value)


def condition_parse(
    *, field: str, operator: str, value: str, channel_codes: set[str] | None = None
) -> Condition:
    """Check one condition and return it ready to evaluate."""
    if field not in OPERATORS:
        raise RuleSchemaError(
            f"{field!r} is not a condition; choose one from the list."
        )
    operators, kind = OPERATORS[field]
    name = _label(RuleCondition.Field, field)
    if operator not in operators:
        allowed = ", ".join(f"“{_label(Op, op)}”" for op in operators)
        raise RuleSchemaError(f"“{name}” takes one of these operators: {allowed}.")
    value = (value or "").strip()
    if kind == "none":
        if value:
            raise RuleSchemaError(f"“{name}” is yes or no: leave the value empty.")
        return Condition(field, operator, None)
    if not value:
        raise RuleSchemaError(f"“{name}” needs a value.")
    if kind == "money":
        return Condition(field, operator, _amount_parse(name, value))
    if kind == "count":
        return Condition(field, operator, _count_parse(field, name, value))
    words = _words(value)
    if not words:
        raise RuleSchemaError(f"“{name}” needs a value.")
    if kind == "countries":
        words = [word.upper() for word in words]
        unknown = [word for word in words if word not in countries]
        if unknown:
            raise RuleSchemaError(
                f"{', '.join(unknown)} is not a country code: write two-letter codes "
                "such as US, DE, GB, separated by commas."
            )
    elif kind == "codes" and channel_codes is not None:
        known = {code.lower() for code in channel_codes}
        unknown = [word for word in words if word not in known]
        if unknown:
            raise RuleSchemaError(
                f"No channel has the code {', '.join(unknown)}; channels: "
                f"{', '.join(sorted(channel_codes)) or 'none yet'}."
            )
    elif kind == "postcodes":
        words = [word.replace(" ", "").upper() for word in words]
    elif kind == "domains":
        words = [word.lstrip("@") for word in words]
        if any("." not in word or "@" in word for word in words):
            raise RuleSchemaError(
                f"“{name}” takes domains such as example.com, separated by commas."
            )
    if operator in PREFIX_OPS:
        return Condition(field, operator, tuple(words))
    return Condition(field, operator, frozenset(words))


def _amount_parse(name: str, value: str) -> Decimal:
    """An amount an order total can be compared with: digits 0-9 and a point,
    within what the order's total column holds."""
    total = Order._meta.get_field("total")
    problem = None
    if AMOUNT.fullmatch(value):
        problem = decimal_problem(
            Decimal(value),
            max_digits=total.max_digits,
            decimal_places=total.decimal_places,
        )
    if problem or not AMOUNT.fullmatch(value):
        raise RuleSchemaError(
            gettext(
                "“%(name)s” compares with an amount such as 250 or 99.90, written "
                "with the digits 0-9 and a point, not %(value)r%(problem)s."
            )
            % {
                "name": name,
                "value": value,
                "problem": f" ({problem.rstrip('.')})" if problem else "",
            }
        )
    return Decimal(value)


def _count_parse(field: str, name: str, value: str) -> int:
    """A whole number from 0 to the field's limit, in the digits 0-9."""
    largest = count_limits()[field]
    # Length first: `int` of thousands of digits is slow, then refused.
    if not WHOLE_NUMBER.fullmatch(value) or len(value) > len(str(largest)) + 1:
        number = None
    else:
        number = int(value)
    if number is not None and number <= largest:
        return number
    if field == RuleCondition.Field.DELIVERY_WITHIN:
        message = gettext(
            "“%(name)s” takes a number of days from 0 to %(largest)s (two years), "
            "written with the digits 0-9, not %(value)r."
        )
    else:
        message = gettext(
            "“%(name)s” compares with a whole number such as 3, from 0 to "
            "%(largest)s, written with the digits 0-9, not %(value)r."
        )
    raise RuleSchemaError(message % {"name": name, "largest": largest, "value": value})
    return number


def action_parse(
    *,
    kind: str,
    value: str,
    note: str = "",
    location_id: int | None = None,
    location_code: str = "",
) -> Action:
    """Check one action and return it ready to apply."""
    value = (value or "").strip()
    note = (note or "").strip()
    if kind == RuleAction.Kind.HOLD:
        reasons = {v: v for v in HoldReason.values} | {
            label.lower(): v for v, label in HoldReason.choices
        }
        reason = reasons.get(value.lower() or HoldReason.OTHER)
        if reason is None:
            raise RuleSchemaError(
                "A hold needs a reason in the value: "
                + ", ".join(HoldReason.labels)
                + "."
            )
        return Action(kind, reason, note)
    if kind == RuleAction.Kind.PRIORITY:
        priority = PRIORITIES.get(value.lower())
        if (
            priority is None
            and WHOLE_NUMBER.fullmatch(value)
            and int(value) in Order.Priority.values
        ):
            priority = int(value)
        if priority is None:
            raise RuleSchemaError(
                "Set priority takes Normal, High or Urgent in the value."
            )
        return Action(kind, priority)
    if kind == RuleAction.Kind.SHIPPING_METHOD:
        limit = Order._meta.get_field("shipping_method").max_length
        if not value or len(value) > limit:
            raise RuleSchemaError(
                f"Set shipping method needs the method's name in the value "
                f"(at most {limit} characters)."
            )
        return Action(kind, value)
    if kind == RuleAction.Kind.POSTAGE_SERVICE:
        return Action(kind, postage_service_parse(value))
    if kind == RuleAction.Kind.RATE_PREFERENCE:
        preference = RATE_PREFERENCES.get(value.lower())
        if preference is None:
            raise RuleSchemaError(
                "Set postage rate preference takes one of "
                + ", ".join(RatePreference.values)
                + f" in the value ({'; '.join(RatePreference.labels)}), "
                f"not {value!r}."
            )
        return Action(kind, preference)
    if kind in (RuleAction.Kind.PIN_LOCATION, RuleAction.Kind.EXCLUDE_LOCATION):
        if location_id is None:
            raise RuleSchemaError(
                f"“{_label(RuleAction.Kind, kind)}” needs a location: choose it in the location column."
            )
        return Action(kind, None, location_id=location_id, location_code=location_code)
    if kind == RuleAction.Kind.ADD_TAG:
        limit = OrderTag._meta.get_field("name").max_length
        if not value or len(value) > limit or "," in value:
            raise RuleSchemaError(
                f"Add order tag needs one tag in the value (at most {limit} "
                "characters, no commas)."
            )
        return Action(kind, value.lower())
    if kind == RuleAction.Kind.EMAIL:
        try:
            validate_email(value)
        except ValidationError:
            raise RuleSchemaError(
                f"E-mail an address needs an e-mail address in the value, not {value!r}."
            ) from None
        return Action(kind, value.lower(), note)
    raise RuleSchemaError(f"{kind!r} is not an action; choose one from the list.")


def postage_service_parse(value: str) -> tuple[str, str]:
    """Split "USPS Priority" or "UPS / Next Day Air" into the EasyPost
    carrier and service names, or refuse with what to write."""
    value = (value or "").strip()
    carrier, slash, service = value.partition("/")
    if not slash:
        carrier, _space, service = value.partition(" ")
    carrier, service = carrier.strip(), service.strip()
    limit = Order._meta.get_field("postage_carrier").max_length
    if not carrier or not service or " " in carrier:
        raise RuleSchemaError(
            "Set postage carrier + service needs the EasyPost carrier and service "
            f"names in the value, such as {POSTAGE_EXAMPLE}, not {value!r}."
        )
    if len(carrier) > limit or len(service) > limit:
        raise RuleSchemaError(
            f"Set postage carrier + service: the carrier and the service have at "
            f"most {limit} characters each."
        )
    return carrier, service
