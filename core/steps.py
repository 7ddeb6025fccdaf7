"""Step buttons on an admin change page: the one framework every app uses.

A step is a button that runs one service on one object. Declare the steps
as a dict (its order is the order of the buttons), then mix
`StepAdminMixin` into the model admin::

    def _approve(rma, user, form) -> str:
        services.return_approve(return_request=rma, actor=user, ...)
        return f"Return {rma.number} approved."

    RETURN_STEPS = {
        "approve": Step("Approve", "returns.approve_return", _approve,
                        form=forms.ApproveForm, statuses=("requested",)),
    }

    class ReturnRequestAdmin(StepAdminMixin, admin.ModelAdmin):
        steps = RETURN_STEPS
        step_template = "admin/returns/returnrequest/step.html"
        step_url_name = "returns_returnrequest_step"
        steps_context_name = "return_steps"

The mixin adds the URL `<id>/step/<name>/` (named `step_url_name`) and its
view: unknown step → back to the change page; no permission →
`PermissionDenied`; a step with a form shows `step_template` until the form
is valid; then `step.run(obj, user, form_or_None)` runs and its returned
text is the success message; a `DomainError` becomes an error message. The
change page gets the buttons this user may press now in the context
variable `steps_context_name`, as `(name, step)` pairs.

A step applies when the object's `status` is one of `statuses`, or when
one of the FSM `transitions` is available on the object
(`get_available_status_transitions()`); with neither it always applies; and
only when its `when(obj)` says so, if it has one.
Hooks to override: `get_step_object`, `get_step_form_kwargs`,
`get_step_title`, `get_step_context`, `get_step_success_url`, `step_run`,
`step_error_redirects`.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.exceptions import DomainError

# run(obj, user, bound form or None) -> the success message.
StepRun = Callable[[Any, Any, forms.Form | None], str]


@dataclass(frozen=True)
class Step:
    """A button on a change page: who may press it, when, what it asks and runs."""

    label: str
    permission: str
    run: StepRun
    form: type[forms.Form] | None = None
    style: str = ""
    statuses: tuple[str, ...] = ()
    transitions: tuple[str, ...] = ()
    # A further condition on the object (e.g. its order's status).
    when: Callable[[Any], bool] | None = None

    def applies(self, obj: Any, available_transitions: set[str]) -> bool:
        """Say whether the step makes sense for the object in its status now."""
        if self.when is not None and not self.when(obj):
            return False
        if self.statuses and obj.status in self.statuses:
            return True
        if self.transitions and available_transitions & set(self.transitions):
            return True
        return not self.statuses and not self.transitions


def steps_available(
    obj: Any, user: Any, steps: Mapping[str, Step]
) -> list[tuple[str, Step]]:
    """Return the `(name, step)` buttons this user may press on this object now."""
    available_transitions: set[str] = set()
    if any(step.transitions for step in steps.values()):
        available_transitions = {
            transition.name for transition in obj.get_available_status_transitions()
        }
    return [
        (name, step)
        for name, step in steps.items()
        if step.applies(obj, available_transitions) and user.has_perm(step.permission)
    ]


class StepAdminMixin:
    """The step URL and view of a model admin, and its buttons on the change page."""

    steps: Mapping[str, Step] = {}
    step_template: str = ""
    step_url_name: str = ""
    steps_context_name: str = "steps"
    # On a refused step: back to the change page, or show the step page again
    # (see `step_error_redirects` to decide per error).
    step_redirect_on_error: bool = True

    # ---- hooks

    def get_step_object(self, request: HttpRequest, object_id: int) -> Any:
        return get_object_or_404(self.model, pk=object_id)

    def get_step_form_kwargs(
        self, request: HttpRequest, obj: Any, name: str, step: Step
    ) -> dict[str, Any]:
        return {}

    def get_step_title(self, obj: Any, step: Step) -> str:
        return f"{step.label}: {obj}"

    def get_step_context(
        self, request: HttpRequest, obj: Any, name: str, step: Step
    ) -> dict[str, Any]:
        return {}

    def get_step_success_url(
        self, request: HttpRequest, obj: Any, name: str, step: Step
    ) -> str:
        return self.get_step_change_url(obj)

    def get_step_change_url(self, obj: Any) -> str:
        opts = self.model._meta
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]
        )

    def step_run(
        self, request: HttpRequest, obj: Any, step: Step, form: forms.Form | None
    ) -> str:
        return step.run(obj, request.user, form)

    def step_error_redirects(self, error: DomainError) -> bool:
        """Say whether a refused step goes back to the change page (True) or
        shows its form again (False)."""
        return self.step_redirect_on_error

    # ---- the change page and the step view

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if obj is not None:
            extra_context[self.steps_context_name] = steps_available(
                obj, request.user, self.steps
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/step/<str:step>/",
                self.admin_site.admin_view(self.step_view),
                name=self.step_url_name,
            ),
            *super().get_urls(),
        ]

    def step_view(
        self, request: HttpRequest, object_id: int, step: str
    ) -> HttpResponse:
        obj = self.get_step_object(request, object_id)
        name, action = step, self.steps.get(step)
        if action is None:
            return HttpResponseRedirect(self.get_step_change_url(obj))
        if not request.user.has_perm(action.permission):
            raise PermissionDenied
        form = (
            action.form(
                request.POST or None,
                **self.get_step_form_kwargs(request, obj, name, action),
            )
            if action.form
            else None
        )
        if request.method == "POST" and (form is None or form.is_valid()):
            try:
                text = self.step_run(request, obj, action, form)
            except DomainError as error:
                self.message_user(request, str(error), messages.ERROR)
                if self.step_error_redirects(error):
                    return HttpResponseRedirect(self.get_step_change_url(obj))
            else:
                self.message_user(request, text, messages.SUCCESS)
                return HttpResponseRedirect(
                    self.get_step_success_url(request, obj, name, action)
                )
        context = {
            **self.admin_site.each_context(request),
            "title": self.get_step_title(obj, action),
            "opts": self.model._meta,
            "original": obj,
            "form": form,
            "step": action,
            "step_name": name,
            "button": action.label,
            "style": action.style,
            **self.get_step_context(request, obj, name, action),
        }
        return TemplateResponse(request, self.step_template, context)
