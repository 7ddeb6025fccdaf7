"""The channel's connection to its shop on the channel's admin page: the
access token and the secret its webhooks are signed with, write-only."""

from django import forms
from django.contrib import admin

from core.admin_secrets import secret_hint
from orders.models import Channel, FinancialStatus

# The channel's connection secrets besides its outbound webhook secret: set
# here, never shown (as core.admin_secrets does for that one).
CONNECTION_SECRETS = ("access_token", "inbound_secret")


class ChannelConnectionForm(forms.ModelForm):
    """Write-only inputs for the access token and the inbound webhook secret;
    the payment states the channel takes orders in with, as checkboxes."""

    accepted_financial_statuses = forms.MultipleChoiceField(
        label="Payment states taken in",
        choices=FinancialStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=Channel._meta.get_field("accepted_financial_statuses").help_text,
    )

    new_access_token = forms.CharField(
        label="New access token",
        required=False,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password"}
        ),
        help_text="Shopify: shpat_…; WooCommerce: ck_…:cs_…. Leave empty to keep "
        "the current one; it is never shown again.",
    )
    new_inbound_secret = forms.CharField(
        label="New shop webhook secret",
        required=False,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password"}
        ),
        help_text="The secret the shop signs its webhooks with. Leave empty to "
        "keep the current one; it is never shown again.",
    )

    def clean(self):
        cleaned = super().clean()
        for name in CONNECTION_SECRETS:
            value = (cleaned.get(f"new_{name}") or "").strip()
            limit = self._meta.model._meta.get_field(name).max_length
            if len(value) > limit:
                self.add_error(f"new_{name}", f"At most {limit} characters fit.")
            elif value:
                setattr(self.instance, name, value)
        return cleaned


@admin.display(description="access token")
def access_token_state(obj) -> str:
    return secret_hint(obj.access_token if obj else "")


@admin.display(description="shop webhook secret")
def inbound_secret_state(obj) -> str:
    return secret_hint(obj.inbound_secret if obj else "")
