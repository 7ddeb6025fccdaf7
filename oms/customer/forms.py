"""The forms on the customer's order page. Each checks what the customer
typed against the model's limits and, for an address, its country's rules;
the services check the business rules again."""

import functools

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django_countries import countries

from core.limits import single_line_text
from orders.addresses import Address, address_problems
from orders.services.customer import MESSAGE_MAX
from returns.models import ReturnReason
from returns.services.customer import NOTE_MAX

ADDRESS_FIELDS = (
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
# Any of these typed means the customer is giving a new address.
ADDRESS_MARKERS = ("ship_name", "ship_address1", "ship_city", "ship_postcode")


@functools.lru_cache(maxsize=8)
def _country_options(language: str) -> str:
    """Every country as an <option>, built once per language."""
    return format_html_join(
        "", '<option value="{}">{}</option>', ((code, name) for code, name in countries)
    )


class CountrySelect(forms.Select):
    """The country list, built directly and once: the template per option of
    Django's Select costs most of the page's time for some 250 countries."""

    def render(self, name, value, attrs=None, renderer=None):
        attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        options = _country_options(get_language() or "")
        if value:
            # Both strings are escaped: the result is as safe as the list.
            options = mark_safe(  # noqa: S308
                options.replace(
                    format_html('<option value="{}">', value),
                    format_html('<option value="{}" selected>', value),
                    1,
                )
            )
        return format_html(
            '<select{}><option value="">—</option>{}</select>', flatatt(attrs), options
        )


def _line(label: str, max_length: int, required: bool = False) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=required,
        validators=[single_line_text],
    )


class DeliveryForm(forms.Form):
    """A new address (typed whole: the page never shows the old one in full)
    and/or a requested delivery date."""

    ship_name = _line("Full name", 200)
    ship_company = _line("Company", 200)
    ship_address1 = _line("Street and number", 200)
    ship_address2 = _line("Apartment, floor (optional)", 200)
    ship_city = _line("Town or city", 100)
    ship_region = _line("State or region", 100)
    ship_postcode = _line("Postcode", 20)
    ship_country = forms.ChoiceField(
        label="Country",
        choices=[("", "—"), *countries],
        required=False,
        widget=CountrySelect,
    )
    ship_phone = _line("Phone for the carrier (optional)", 40)
    requested_delivery_date = forms.DateField(
        label="Deliver on (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, current_date=None, order=None, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and current_date:
            self.initial["requested_delivery_date"] = current_date
        if not self.is_bound and order is not None:
            # The name and country as they are; the street lines stay for the
            # customer to type (the page never shows them whole).
            self.initial["ship_name"] = order.ship_name
            self.initial["ship_country"] = str(order.ship_country)

    @property
    def address_given(self) -> bool:
        return any(self.cleaned_data.get(name) for name in ADDRESS_MARKERS)

    def clean(self):
        cleaned = super().clean()
        if self.errors or not self.address_given:
            return cleaned
        values = {name: cleaned.get(name) or "" for name in ADDRESS_FIELDS}
        for name in ("ship_name", "ship_address1", "ship_city", "ship_country"):
            if not values[name]:
                self.add_error(name, "Required for a new address.")
        if self.errors:
            return cleaned
        for name, message in address_problems(values).items():
            self.add_error(name if name in self.fields else None, message)
        return cleaned

    def address(self) -> Address | None:
        if not self.address_given:
            return None
        return Address.from_fields(
            {name: self.cleaned_data.get(name) or "" for name in ADDRESS_FIELDS}
        )


class RequestForm(forms.Form):
    message = forms.CharField(
        label="What should we change?",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    requested_delivery_date = forms.DateField(
        label="Deliver on (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class CancelRequestForm(forms.Form):
    message = forms.CharField(
        label="Why do you want to cancel? (optional)",
        max_length=MESSAGE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CancelForm(forms.Form):
    reason = _line("Why are you cancelling? (optional)", 200)
    # One tap never cancels: the customer says so.
    confirm = forms.BooleanField(
        label="Yes, cancel this order",
        required=True,
        error_messages={"required": "Tick the box to confirm the cancellation."},
    )


class ReturnForm(forms.Form):
    """A quantity and a reason per line still returnable, and a note."""

    note = forms.CharField(
        label="Anything we should know? (optional)",
        max_length=NOTE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = [line for line in lines if line.returnable]
        for line in self.lines:
            self.fields[f"quantity_{line.pk}"] = forms.TypedChoiceField(
                label=f"{line.name} — how many?",
                choices=[(n, n) for n in range(line.returnable + 1)],
                coerce=int,
                initial=0,
            )
            self.fields[f"reason_{line.pk}"] = forms.ChoiceField(
                label="Reason",
                choices=[("", "Choose a reason"), *ReturnReason.choices],
                required=False,
            )

    def rows(self):
        return [
            (line, self[f"quantity_{line.pk}"], self[f"reason_{line.pk}"])
            for line in self.lines
        ]

    def clean(self):
        cleaned = super().clean()
        chosen = [
            line for line in self.lines if cleaned.get(f"quantity_{line.pk}", 0) > 0
        ]
        if not self.errors and not chosen:
            raise ValidationError("Choose at least one item to return.")
        for line in chosen:
            if not cleaned.get(f"reason_{line.pk}"):
                self.add_error(
                    f"reason_{line.pk}", f"Choose why {line.name} goes back."
                )
        return cleaned

    def chosen(self) -> list[tuple[int, int, str]]:
        """(order line pk, quantity, reason) of each line the customer returns."""
        return [
            (
                line.pk,
                self.cleaned_data[f"quantity_{line.pk}"],
                self.cleaned_data[f"reason_{line.pk}"],
            )
            for line in self.lines
            if self.cleaned_data.get(f"quantity_{line.pk}", 0) > 0
        ]
