from django import template

from inventory.selectors import stock_levels_below_reorder_point

register = template.Library()


@register.simple_tag
def below_reorder_point_count() -> int:
    """Count the stock levels at or below their reorder point."""
    return stock_levels_below_reorder_point().count()
