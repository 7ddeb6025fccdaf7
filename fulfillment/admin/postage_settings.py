"""Postage settings in the admin: carrier accounts (EasyPost keys,
write-only), each location's and channel's postage settings (a carrier
needs an EasyPost account), and boxes."""

from django import forms
from django.contrib import admin

from core.admin_secrets import secret_hint
from fulfillment.models import Carrier
from fulfillment.models.postage import (
    Box,
    CarrierAccount,
    ChannelPostage,
    LocationPostage,
)


class CarrierAccountForm(forms.ModelForm):
    new_api_key = forms.CharField(
        label="New EasyPost API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password"}
        ),
        help_text="Type the key to set or replace it; leave empty to keep the "
        "current one. It is never shown again after saving.",
    )

    class Meta:
        model = CarrierAccount
        fields = [
            "carrier",
            "kind",
            "mode",
            "carrier_account_ids",
            "verify_addresses",
        ]

    def clean(self):
        data = super().clean()
        if data.get("new_api_key"):
            self.instance.api_key = data["new_api_key"]
        return data


@admin.register(CarrierAccount)
class CarrierAccountAdmin(admin.ModelAdmin):
    form = CarrierAccountForm
    list_display = ["carrier", "kind", "mode", "key", "carrier_account_ids"]
    list_filter = ["kind", "mode"]
    list_select_related = ["carrier"]
    readonly_fields = ["key"]

    @admin.display(description="API key")
    def key(self, obj: CarrierAccount) -> str:
        return secret_hint(obj.api_key if obj else "")


def easypost_carrier_problem(carrier: Carrier | None) -> str:
    """Say why postage cannot be bought through `carrier`, or "" when it can."""
    if carrier is None:
        return ""
    account = CarrierAccount.objects.filter(carrier=carrier).first()
    if account is None or account.kind != CarrierAccount.Kind.EASYPOST:
        return (
            f"{carrier.name} has no EasyPost account, so no postage can be bought "
            "through it. Choose a carrier with one, or set one up under "
            "Fulfilment › Carrier accounts (kind: Bought through EasyPost)."
        )
    if not account.api_key:
        return (
            f"{carrier.name}'s EasyPost account has no API key yet. Type the key "
            "under Fulfilment › Carrier accounts first."
        )
    return ""


class LocationPostageForm(forms.ModelForm):
    class Meta:
        model = LocationPostage
        fields = [
            "location",
            "carrier",
            "company",
            "street1",
            "street2",
            "city",
            "state",
            "zip",
            "phone",
            "rate_choice",
            "preferred_carriers",
            "label_format",
        ]

    def clean_carrier(self):
        carrier = self.cleaned_data.get("carrier")
        if problem := easypost_carrier_problem(carrier):
            raise forms.ValidationError(problem)
        return carrier


class ChannelPostageForm(forms.ModelForm):
    class Meta:
        model = ChannelPostage
        fields = ["channel", "return_carrier"]

    def clean_return_carrier(self):
        carrier = self.cleaned_data.get("return_carrier")
        if problem := easypost_carrier_problem(carrier):
            raise forms.ValidationError(problem)
        return carrier


@admin.register(LocationPostage)
class LocationPostageAdmin(admin.ModelAdmin):
    form = LocationPostageForm
    list_display = [
        "location",
        "carrier",
        "rate_choice",
        "label_format",
        "city",
        "zip",
    ]
    list_select_related = ["location", "carrier"]


@admin.register(Box)
class BoxAdmin(admin.ModelAdmin):
    list_display = ["name", "location", "length_mm", "width_mm", "height_mm", "active"]
    list_filter = ["location", "active"]


@admin.register(ChannelPostage)
class ChannelPostageAdmin(admin.ModelAdmin):
    form = ChannelPostageForm
    list_display = ["channel", "return_carrier"]
    list_select_related = ["channel", "return_carrier"]
