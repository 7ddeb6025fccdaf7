"""Forms for order steps that need a few words from the user."""

from django import forms

from core.limits import single_line_text
from orders.addresses import SHIP_TO_FIELDS, address_problems
from orders.bounds import order_dates_problems
from orders.models import HoldReason, Order


class HoldForm(forms.Form):
    # Nothing preselected: the person says why.
    reason = forms.ChoiceField(choices=[("", "— choose why —"), *HoldReason.choices])
    note = forms.CharField(
        max_length=255, required=False, validators=[single_line_text]
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        validators=[single_line_text],
        help_text="Shown on the order timeline, e.g. 'customer request'.",
    )


class OrderForm(forms.ModelForm):
    """The order admin's form: the ship-to address is checked against its
    country's rules (required fields, postcode format) whenever it changes,
    and the order's dates against their bounds (`orders.bounds`)."""

    class Meta:
        model = Order
        # The admin lays out the rest of the order's fields itself.
        fields = SHIP_TO_FIELDS

    def clean(self):
        cleaned = super().clean()
        dates = {
            name: cleaned.get(name)
            for name in ("placed_at", "requested_delivery_date")
            if name in self.fields and name in self.changed_data
        }
        for name, problem in order_dates_problems(dates).items():
            self.add_error(name, problem)
        if self.instance.pk and not set(self.changed_data) & set(SHIP_TO_FIELDS):
            return cleaned
        # Fields not on the form (read-only) keep the order's values.
        address = {name: getattr(self.instance, name, "") for name in SHIP_TO_FIELDS}
        address.update(
            {name: cleaned[name] for name in SHIP_TO_FIELDS if name in cleaned}
        )
        if not address["ship_country"] or self.has_error("ship_country"):
            return cleaned
        for name, message in address_problems(address).items():
            if name in self.fields and not self.has_error(name):
                self.add_error(name, message)
            elif name not in self.fields:
                self.add_error(None, message)
        return cleaned
