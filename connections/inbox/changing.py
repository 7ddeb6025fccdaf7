"""A shop's update of an order already here, checked as an update: only what
an update may change (the ship-to address, the shipping method, the payment
state, the note and note attributes) is read and checked, with the same rules
as a new order's;
the lines, the customer's e-mail and the money were checked when the order
came and are not checked again (an update is never refused for them)."""

from typing import Any

from connections.inbox.payload import (
    ADDRESS_KEYS,
    API,
    FieldProblem,
    PayloadError,
    note_attributes_check,
)
from orders.importing.validate import ParsedOrder, order_check
from orders.notes import notes_problem


def _cell(value: Any) -> str:
    """A scalar as the text a CSV cell would hold ("" for anything else)."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value).strip()
    return ""


def _object(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def change_check(body: Any) -> ParsedOrder:
    """Check the fields of an order body an update applies; return them parsed
    (`values`, `country`, `address_problem`, `financial_status`, `note`,
    `note_attributes`), or raise PayloadError naming each problem's field
    path."""
    if not isinstance(body, dict):
        raise PayloadError([FieldProblem("(body)", "must be a JSON object.")])
    address = _object(body.get("shipping_address"))
    values = {field: _cell(address.get(key)) for field, key in ADDRESS_KEYS.items()}
    values["phone"] = _cell(_object(body.get("customer")).get("phone"))
    for field in ("shipping_method", "financial_status", "note"):
        values[field] = _cell(body.get(field))
    parsed = ParsedOrder(_cell(body.get("external_id")), 0, values)
    order_check(parsed, API, False, "USD")
    problems = [FieldProblem(p.column, p.message) for p in parsed.problems]
    parsed.note_attributes = note_attributes_check(
        body.get("note_attributes"), problems
    )
    # The note itself is checked with the other values (`order_check`).
    if message := notes_problem("", parsed.note_attributes):
        problems.append(FieldProblem("note_attributes", message))
    if problems:
        raise PayloadError(problems)
    return parsed
