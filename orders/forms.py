"""Forms for order steps that need a few words from the user."""

from django import forms

from core.limits import single_line_text
from orders.models import HoldReason


class HoldForm(forms.Form):
    reason = forms.ChoiceField(choices=HoldReason.choices)
    note = forms.CharField(
        max_length=255, required=False, validators=[single_line_text]
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        validators=[single_line_text],
        help_text="Shown on the order timeline, e.g. 'customer request'.",
    )
