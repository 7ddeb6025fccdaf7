"""Forms for the stock operations offered on stock level pages."""

from django import forms

from inventory.models import Location, StockMovement

Reason = StockMovement.Reason


class ReceiveForm(forms.Form):
    quantity = forms.IntegerField(min_value=1)
    reference = forms.CharField(
        max_length=64, required=False, help_text="Purchase order or delivery note."
    )
    note = forms.CharField(max_length=255, required=False)


class AdjustForm(forms.Form):
    delta = forms.IntegerField(
        label="Change", help_text="Negative to remove stock, positive to add it."
    )
    reason = forms.ChoiceField(
        choices=[
            (r.value, r.label)
            for r in (Reason.DAMAGED, Reason.LOST, Reason.FOUND, Reason.CORRECTION)
        ]
    )
    note = forms.CharField(max_length=255, required=False)

    def clean_delta(self) -> int:
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError("Enter a change other than zero.")
        return delta


class CountForm(forms.Form):
    counted = forms.IntegerField(min_value=0, label="Counted quantity")
    note = forms.CharField(max_length=255, required=False)


class TransferForm(forms.Form):
    to_location = forms.ModelChoiceField(queryset=Location.objects.filter(active=True))
    quantity = forms.IntegerField(min_value=1)
    note = forms.CharField(max_length=255, required=False)
