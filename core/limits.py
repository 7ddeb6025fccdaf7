"""What the database accepts for a model field, checked before any write.

Every limit is read from the field's own metadata (`max_length`,
`max_digits`, `decimal_places`, its validators, its integer type), so a
schema change moves the checks with it::

    from core.limits import value_problem

    field = OrderLine._meta.get_field("unit_price")
    value_problem(field, Decimal("1e10"))
    # "10000000000 is too large: the most it can be is 9999999999.99."

A problem is a sentence about the value, ready to follow "row R, column C:";
None means the database will take it (PostgreSQL's integer ranges, not
the driver's).
"""

import functools
import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations

# NUL, the other C0 controls, DEL, C1 controls and lone surrogates: no text
# column can hold NUL and none of the others is ever meant.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# What breaks a value that is meant to be one line.
_LINE_BREAK = re.compile(r"[\t\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SHOWN = 40


def shown(text: str) -> str:
    """Return a value quoted for a message, cut short when it is long."""
    if len(text) > _SHOWN:
        return repr(text[:_SHOWN]) + "…"
    return repr(text)


def _character_name(character: str) -> str:
    names = {"\t": "a tab", "\n": "a line break", "\r": "a line break"}
    code = f"U+{ord(character):04X}"
    name = names.get(character) or unicodedata.name(character, "").lower()
    return f"{name} ({code})" if name else code


def text_problem(text: str, *, max_length: int | None, single_line: bool) -> str | None:
    """Say why a text cannot be stored as it is, or return None."""
    if "\x00" in text:
        return (
            "contains a NUL character (U+0000), which cannot be stored; remove it "
            "(a NUL in a CSV file usually means the file is damaged)."
        )
    if single_line and (found := _LINE_BREAK.search(text)):
        return (
            f"contains {_character_name(found.group())}, but this field is one "
            "line of text; remove it (in a CSV file, a quote left open also joins "
            "lines)."
        )
    if found := _CONTROL.search(text):
        return (
            "contains an invisible control character "
            f"(U+{ord(found.group()):04X}); remove it."
        )
    if max_length is not None and len(text) > max_length:
        return (
            f"{shown(text)} is {len(text)} characters long; at most {max_length} "
            "fit. Shorten it."
        )
    return None


@functools.lru_cache(maxsize=64)
def _decimal_bounds(max_digits: int, decimal_places: int) -> tuple[Decimal, Decimal]:
    """The first value too large for NUMERIC(max_digits, decimal_places), and
    its smallest step."""
    return (
        Decimal(10) ** (max_digits - decimal_places),
        Decimal(1).scaleb(-decimal_places),
    )


def decimal_problem(
    value: Decimal, *, max_digits: int, decimal_places: int
) -> str | None:
    """Say why a number does not fit NUMERIC(max_digits, decimal_places)."""
    if not value.is_finite():
        return f"{value} is not a number."
    too_large, step = _decimal_bounds(max_digits, decimal_places)
    if abs(value) >= too_large:
        largest = too_large - step
        return f"{value} is too large: the most it can be is {largest}."
    if value != value.quantize(step):
        return (
            f"{value} has more than {decimal_places} decimal places; round it to "
            f"{decimal_places}."
        )
    return None


def integer_range(field: models.Field) -> tuple[int, int]:
    """Return the smallest and largest value PostgreSQL stores in the field."""
    return _integer_range(field)


@functools.lru_cache(maxsize=1024)
def _integer_range(field: models.Field) -> tuple[int, int]:
    internal_type = field.get_internal_type()
    if isinstance(field, models.ForeignKey):
        internal_type = field.target_field.get_internal_type()
    return BaseDatabaseOperations.integer_field_ranges[internal_type]


def _explicit_validators(field: models.Field) -> list:
    # The field's own validators (e-mail, slug, min/max value...), without the
    # length, digit and range validators every field adds: those are checked
    # above with the database's limits, the same on every backend.
    return [*field.default_validators, *field._validators]


def value_problem(field: models.Field, value: Any) -> str | None:
    """Say why the database (or the field's validators) would refuse the value."""
    problem = None
    if isinstance(value, str):
        problem = text_problem(
            value,
            max_length=field.max_length,
            single_line=not isinstance(field, models.TextField),
        )
    elif isinstance(field, models.DecimalField):
        problem = decimal_problem(
            Decimal(value),
            max_digits=field.max_digits,
            decimal_places=field.decimal_places,
        )
    elif isinstance(value, bool):
        problem = None
    elif isinstance(value, int):
        low, high = integer_range(field)
        if value > high:
            problem = f"{value} is too large: the most it can be is {high}."
        elif value < low:
            problem = f"{value} is too small: the least it can be is {low}."
    elif isinstance(value, datetime):
        try:
            value.astimezone(UTC)
        except (OverflowError, ValueError):
            problem = f"{value.isoformat()} is out of the range of dates that fit."
    if problem or value in field.empty_values:
        return problem
    for validator in _explicit_validators(field):
        try:
            validator(value)
        except ValidationError as error:
            message = " ".join(error.messages).rstrip(".")
            message = message[:1].lower() + message[1:]
            shown_value = shown(value) if isinstance(value, str) else str(value)
            return f"{shown_value} is refused: {message}."
    return None


# What `model_value_problem` knows of a field once it has met it: the field,
# its kind ("text" for a one-line text field, "decimal", "integer", or "" for
# any other), that kind's limit, and whether it has validators of its own.
_FIELDS: dict[tuple[type[models.Model], str], tuple[models.Field, str, Any, bool]] = {}


def _field_facts(model: type[models.Model], name: str) -> tuple:
    field = model._meta.get_field(name)
    validated = bool(_explicit_validators(field))
    if isinstance(field, models.CharField) and not isinstance(field, models.TextField):
        facts = (field, "text", field.max_length, validated)
    elif isinstance(field, models.DecimalField):
        facts = (field, "decimal", (field.max_digits, field.decimal_places), validated)
    elif isinstance(field, models.IntegerField) and not field.choices:
        facts = (field, "integer", integer_range(field), validated)
    else:
        facts = (field, "", None, validated)
    return _FIELDS.setdefault((model, name), facts)


def model_value_problem(model: type[models.Model], name: str, value: Any) -> str | None:
    """`value_problem` for the field `name` of `model`.

    It runs for every cell of an import, so the common cases are answered
    from what the field's metadata says, worked out once per field: a
    printable text short enough, a number in range. Anything else, and any
    field with validators of its own, gets the full `value_problem`.
    """
    field, kind, limit, validated = _FIELDS.get((model, name)) or _field_facts(
        model, name
    )
    kind_of_value = type(value)
    if validated:
        pass
    elif kind == "text" and kind_of_value is str:
        # Printable: no NUL, control character, line break or lone surrogate.
        if value.isprintable() and (limit is None or len(value) <= limit):
            return None
    elif kind == "decimal" and kind_of_value is Decimal:
        return decimal_problem(value, max_digits=limit[0], decimal_places=limit[1])
    elif kind == "integer" and kind_of_value is int:
        low, high = limit
        if low <= value <= high:
            return None
    return value_problem(field, value)


def printable(text: str) -> str:
    """Return one line of text: line breaks as spaces, control characters gone."""
    return _CONTROL.sub("", _LINE_BREAK.sub(" ", text)).strip()


def fit_text(field: models.Field, text: str) -> str:
    """Return text made storable in the field: `printable`, cut to its length.

    For labels the system writes itself (a file name in an event or a
    history reason), never for a person's data, which is refused instead."""
    text = printable(text)
    if field.max_length is not None and len(text) > field.max_length:
        text = text[: field.max_length - 1] + "…"
    return text


def single_line_text(value: str) -> None:
    """Form validator: refuse control characters and line breaks."""
    problem = text_problem(value, max_length=None, single_line=True)
    if problem:
        raise ValidationError(f"The text {problem}", code="control_character")


def formfield_limit(db_field: models.Field, formfield: Any) -> Any:
    """Make a model form field refuse what the database would.

    Django's integer form fields do not always carry the column's range and
    its text fields accept tabs and line breaks in one-line fields; this adds
    PostgreSQL's range and the one-line rule.
    """
    if formfield is None or db_field.choices or db_field.is_relation:
        return formfield
    if isinstance(db_field, models.IntegerField) and not db_field.primary_key:
        low, high = integer_range(db_field)
        formfield.validators += [MinValueValidator(low), MaxValueValidator(high)]
    elif isinstance(db_field, models.CharField):
        formfield.validators.append(single_line_text)
    return formfield


class FormLimitsMixin:
    """ModelAdmin/inline mixin: every model form field gets `formfield_limit`."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        return formfield_limit(db_field, formfield)
