"""Forms for order steps that need a few words from the user."""

from django import forms

from orders.models import HoldReason


class HoldForm(forms.Form):
    reason = forms.ChoiceField(choices=HoldReason.choices)
    note = forms.CharField(max_length=255, required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        help_text="Shown on the order timeline, e.g. 'customer request'.",
    )
