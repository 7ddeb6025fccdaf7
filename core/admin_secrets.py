"""Write-only secrets on an admin change page (tokens, signing secrets).

A secret is never shown in clear once saved: the page says whether one is
set and its last four characters. Those who may change the object get a
password input to set a new one and a *Rotate* button that generates one,
shown once in the success message so it can be handed over. Everyone else
sees only the hint::

    class CarrierAdmin(WriteOnlySecretAdminMixin, admin.ModelAdmin):
        secret_field = "webhook_token"

        def secret_rotate(self, obj, user) -> str:
            return carrier_token_rotate(carrier=obj, actor=user)
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

SECRET_INPUT = "new_secret"


def secret_hint(secret: str) -> str:
    """Return what may be shown of a secret: "set (…abcd)" or "not set"."""
    if not secret:
        return "not set"
    if len(secret) < 12:
        return "set"  # four characters of a short secret would give too much away
    return f"set (…{secret[-4:]})"


class WriteOnlySecretAdminMixin:
    """A model admin whose `secret_field` can be set or rotated, never read."""

    secret_field: str = ""
    change_form_template = "admin/secret_change_form.html"

    # ---- hooks

    def secret_rotate(self, obj: Any, user: Any) -> str:
        """Give the object a new random secret (a service); return it."""
        raise NotImplementedError

    def secret_clean(self, value: str) -> str:
        """Check a typed secret and return what to store; raise ValidationError."""
        return value

    # ---- who may, and what is shown

    @property
    def secret_label(self) -> str:
        return str(self.model._meta.get_field(self.secret_field).verbose_name)

    def may_set_secret(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return self.has_add_permission(request)
        return self.has_change_permission(request, obj)

    @admin.display(description="secret")
    def secret_state(self, obj: Any) -> str:
        return secret_hint(getattr(obj, self.secret_field, "") if obj else "")

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or []), self.secret_field]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "secret_state"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self.may_set_secret(request, obj):
            kwargs["form"] = self._secret_form()
        return super().get_form(request, obj, change=change, **kwargs)

    def _secret_form(self) -> type[forms.ModelForm]:
        model_admin = self
        label = self.secret_label

        def clean_new_secret(form):
            value = form.cleaned_data.get(SECRET_INPUT, "").strip()
            if not value:
                return ""
            try:
                return model_admin.secret_clean(value)
            except ValidationError:
                raise
            except ValueError as error:
                raise ValidationError(str(error)) from error

        return type(
            f"{self.form.__name__}WithSecret",
            (self.form,),
            {
                SECRET_INPUT: forms.CharField(
                    label=f"New {label}",
                    required=False,
                    strip=True,
                    widget=forms.PasswordInput(
                        render_value=False, attrs={"autocomplete": "new-password"}
                    ),
                    help_text=f"Type a new {label} to replace the current one, or "
                    "leave empty to keep it. It is never shown again after saving; "
                    "*Rotate* above generates one for you.",
                ),
                f"clean_{SECRET_INPUT}": clean_new_secret,
            },
        )

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        # The hint first, the input right after it.
        for name in ("secret_state", SECRET_INPUT):
            if name in fields:
                fields.remove(name)
                fields.append(name)
        return fields

    def save_model(self, request, obj, form, change):
        value = form.cleaned_data.get(SECRET_INPUT)
        if value and self.may_set_secret(request, obj if change else None):
            setattr(obj, self.secret_field, value)
        super().save_model(request, obj, form, change)

    # ---- Rotate

    def _rotate_url_name(self) -> str:
        opts = self.model._meta
        return f"{opts.app_label}_{opts.model_name}_rotate_secret"

    def get_urls(self):
        return [
            path(
                "<int:object_id>/rotate-secret/",
                self.admin_site.admin_view(self.secret_rotate_view),
                name=self._rotate_url_name(),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None and self.may_set_secret(request, obj):
            extra_context["secret_rotate_url"] = reverse(
                f"admin:{self._rotate_url_name()}", args=[obj.pk]
            )
            extra_context["secret_label"] = self.secret_label
        return super().change_view(request, object_id, form_url, extra_context)

    def secret_rotate_view(self, request: HttpRequest, object_id: int):
        obj = get_object_or_404(self.model, pk=object_id)
        if not self.may_set_secret(request, obj):
            raise PermissionDenied
        opts = self.model._meta
        change_url = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]
        )
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        secret = self.secret_rotate(obj, request.user)
        self.log_change(request, obj, [{"changed": {"fields": [self.secret_label]}}])
        self.message_user(
            request,
            f"New {self.secret_label} for {obj}: {secret} — copy it now and give it "
            "to them; it is not shown again. The old one no longer works.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(change_url)
