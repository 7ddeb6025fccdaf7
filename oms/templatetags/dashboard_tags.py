from django import template

from oms.dashboard import dashboard_context

register = template.Library()


@register.simple_tag(takes_context=True)
def dashboard(context) -> dict:
    """The dashboard figures for the signed-in user."""
    return dashboard_context(user=context["request"].user)
