"""An order in the API's JSON shape, checked by the CSV import's validator.

The shape (the order API's request body; Shopify and WooCommerce payloads are
turned into it)::

    {"external_id": "1001", "placed_at": "2026-11-20T14:30:00Z",
     "currency": "EUR", "shipping_method": "DHL Paket",
     "shipping_amount": "4.95", "tax_amount": "3.80",
     "customer": {"email": "ann@example.com", "name": "Ann", "phone": ""},
     "shipping_address": {"name": "Ann Lee", "company": "", "address1": "…",
                          "address2": "", "city": "Berlin", "region": "",
                          "postcode": "10115", "country": "DE", "phone": ""},
     "lines": [{"sku": "TSHIRT-M", "quantity": 2, "unit_price": "19.90"}]}

Every value goes through `orders.importing.validate` (`line_check`,
`order_check`: the same rules and model limits as a CSV row); a problem names
its field path, such as `lines[1].sku` or `shipping_address.country`.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.limits import model_value_problem, shown
from orders.importing.formats import Format
from orders.importing.validate import ParsedOrder, flag_of, line_check, order_check
from orders.models import Order
from orders.notes import notes_problem

ADDRESS_KEYS = {
    "ship_name": "name",
    "ship_company": "company",
    "ship_address1": "address1",
    "ship_address2": "address2",
    "ship_city": "city",
    "ship_region": "region",
    "ship_postcode": "postcode",
    "ship_country": "country",
    "ship_phone": "phone",
}
CUSTOMER_KEYS = {"email": "email", "customer_name": "name", "phone": "phone"}
ORDER_KEYS = (
    "placed_at",
    "currency",
    "shipping_method",
    "shipping_amount",
    "tax_amount",
    "discount_amount",
    "shipping_discount",
    "total",
    "financial_status",
    "note",
    "platform_id",
)
LINE_KEYS = {"sku": "sku", "quantity": "quantity", "unit_price": "unit_price"}
# Optional line fields: the check's name for each, and its key in a line.
LINE_MONEY_KEYS = {
    "line_discount": "discount_amount",
    "line_total": "total",
    "line_external_id": "external_id",
}

# The API as an import format: each field's "column" is its path in the body;
# a line field's path is completed with the line's index (`lines[1].sku`).
API = Format(
    code="api",
    label="Order API",
    columns={
        "external_id": "external_id",
        "placed_at": "placed_at",
        "currency": "currency",
        "shipping_method": "shipping_method",
        **{f: f for f in ORDER_KEYS},
        "prices_include_tax": "prices_include_tax",
        "discount_codes": "discount_codes",
        "note_attributes": "note_attributes",
        **{f: f"customer.{key}" for f, key in CUSTOMER_KEYS.items()},
        **{f: f"shipping_address.{key}" for f, key in ADDRESS_KEYS.items()},
        **{f: f"lines.{key}" for f, key in LINE_KEYS.items()},
        **{f: f"lines.{key}" for f, key in LINE_MONEY_KEYS.items()},
        "line_name": "lines.name",
        "requires_shipping": "lines.requires_shipping",
    },
    # The e-mail may be empty when the customer or the address has a phone.
    required=frozenset(
        {"email", "ship_name", "ship_address1", "ship_city", "ship_country"}
    ),
    first_row_only=False,
)
# More lines than any real order has: a body with more is refused whole.
MAX_LINES = 500


@dataclass(frozen=True)
class FieldProblem:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class PayloadError(ValueError):
    """The body does not describe an order that can be stored."""

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def _text(value: Any, path: str, problems: list[FieldProblem]) -> str:
    """Return a scalar as the text a CSV cell would hold; note other types."""
    if value is None:
        return ""
    if isinstance(value, bool):
        problems.append(FieldProblem(path, "must be text or a number, not true/false."))
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return str(value)
    problems.append(FieldProblem(path, "must be text or a number."))
    return ""


def _flag(value: Any, path: str, problems: list[FieldProblem]) -> str:
    """Return a true/false value as the text a file's cell would hold ("" when
    absent); note other types."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and flag_of(value) is not None:
        return value
    problems.append(FieldProblem(path, "must be true or false."))
    return ""


def _codes(value: Any, problems: list[FieldProblem]) -> list[str]:
    """The discount codes: a list of texts (a code may come as an object with
    a "code", as Shopify sends them)."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(FieldProblem("discount_codes", "must be a list of codes."))
        return []
    codes = []
    for index, code in enumerate(value):
        if isinstance(code, dict):
            code = code.get("code")
        if not isinstance(code, str | int) or isinstance(code, bool):
            problems.append(
                FieldProblem(f"discount_codes[{index}]", "must be a code (text).")
            )
            continue
        if str(code).strip():
            codes.append(str(code).strip())
    return codes


def note_attributes_check(
    value: Any, problems: list[FieldProblem]
) -> list[dict[str, str]]:
    """The note attributes: a list of {"name": …, "value": …}."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(
            FieldProblem("note_attributes", 'must be a list of {"name", "value"}.')
        )
        return []
    kept = []
    for index, attribute in enumerate(value):
        path = f"note_attributes[{index}]"
        if not isinstance(attribute, dict):
            problems.append(FieldProblem(path, 'must be {"name": …, "value": …}.'))
            continue
        name = _text(attribute.get("name"), f"{path}.name", problems).strip()
        text = _text(attribute.get("value"), f"{path}.value", problems).strip()
        if name or text:
            kept.append({"name": name, "value": text})
    return kept


def _object(body: Any, key: str, problems: list[FieldProblem]) -> dict:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(FieldProblem(key, "must be an object."))
        return {}
    return value


def _path(column: str, row: int) -> str:
    if column.startswith("lines."):
        return f"lines[{row}].{column.removeprefix('lines.')}"
    return column


def payload_check(
    body: Any, *, default_currency: str = "USD", now: datetime | None = None
) -> ParsedOrder:
    """Check an order body and return it parsed; raise PayloadError naming
    every problem's field path. Its dates are bounded (`orders.bounds`) from
    `now`, the time the message was received (default: now). (A shop's
    update of an order already here is checked by `changing.change_check`.)"""
    problems: list[FieldProblem] = []
    if not isinstance(body, dict):
        raise PayloadError([FieldProblem("(body)", "must be a JSON object.")])
    external_id = _text(body.get("external_id"), "external_id", problems).strip()
    if not external_id and not problems:
        problems.append(FieldProblem("external_id", "is required and empty."))
    elif message := model_value_problem(Order, "external_id", external_id):
        problems.append(FieldProblem("external_id", message))
    customer = _object(body, "customer", problems)
    address = _object(body, "shipping_address", problems)
    values: dict[str, str] = {}
    for f in ORDER_KEYS:
        values[f] = _text(body.get(f), f, problems).strip()
    values["prices_include_tax"] = _flag(
        body.get("prices_include_tax"), "prices_include_tax", problems
    )
    for f, key in CUSTOMER_KEYS.items():
        values[f] = _text(customer.get(key), f"customer.{key}", problems).strip()
    for f, key in ADDRESS_KEYS.items():
        values[f] = _text(address.get(key), f"shipping_address.{key}", problems).strip()
    order = ParsedOrder(external_id, 0, values)
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines:
        problems.append(FieldProblem("lines", "must be a list of at least one line."))
        lines = []
    elif len(lines) > MAX_LINES:
        problems.append(
            FieldProblem("lines", f"has {len(lines)} lines; at most {MAX_LINES} fit.")
        )
        lines = []
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            problems.append(FieldProblem(f"lines[{index}]", "must be an object."))
            continue
        cells = {
            key: _text(line.get(key), f"lines[{index}].{key}", problems)
            for key in (*LINE_KEYS, *LINE_MONEY_KEYS.values(), "name")
        }
        line_check(
            order,
            API,
            row=index,
            sku=cells["sku"],
            quantity=cells["quantity"],
            price=cells["unit_price"],
            name=cells["name"],
            discount=cells["discount_amount"],
            total=cells["total"],
            requires_shipping=_flag(
                line.get("requires_shipping"),
                f"lines[{index}].requires_shipping",
                problems,
            ),
            external_id=cells["external_id"],
        )
    order_check(order, API, False, default_currency, now=now)
    order.discount_codes = _codes(body.get("discount_codes"), problems)
    order.note_attributes = note_attributes_check(body.get("note_attributes"), problems)
    # The note itself is checked with the order's values (`order_check`).
    if message := notes_problem("", order.note_attributes):
        problems.append(FieldProblem("note_attributes", message))
    if message := notes_problem("", [], order.discount_codes):
        problems.append(FieldProblem("discount_codes", message))
    problems.extend(
        FieldProblem(_path(p.column, p.row), p.message) for p in order.problems
    )
    if problems:
        raise PayloadError(_unique(problems))
    return order


def _unique(problems: list[FieldProblem]) -> list[FieldProblem]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for problem in problems:
        if (problem.path, problem.message) not in seen:
            seen.add((problem.path, problem.message))
            kept.append(problem)
    return kept


def external_id_of(body: Any) -> str:
    """Return the body's external id as text, or "" (for logging a message)."""
    if isinstance(body, dict) and isinstance(body.get("external_id"), str | int):
        return str(body["external_id"]).strip()[:64]
    return ""


__all__ = ["API", "FieldProblem", "PayloadError", "payload_check", "shown"]
