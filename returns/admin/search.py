"""The returns list's search: a document number, typed with or without its
zeros or dash, finds its return exactly — by its own number, its order's or
one of its refunds'."""

from django.db.models import Q

from core.sequences import parse_number


class ReturnNumberSearchMixin:
    def get_search_results(self, request, queryset, search_term):
        """A document number, typed with or without its zeros or dash, finds
        its return exactly (an order's, a refund's); other words as before."""
        found, duplicates = super().get_search_results(request, queryset, search_term)
        numbers = {
            "number": parse_number("RMA", search_term),
            "order__number": parse_number("SO", search_term),
            "refunds__number": parse_number("RF", search_term),
        }
        exact = Q()
        for field, number in numbers.items():
            if number:
                exact |= Q(**{field: number})
        if not exact:
            return found, duplicates
        # A refund lookup joins: at most one row per refund, so distinct.
        return (found | queryset.filter(exact)).distinct(), True
