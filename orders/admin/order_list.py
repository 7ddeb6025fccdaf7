"""The order list: its filters, a paginator that stops numbering pages deep
in a big table, and a change list that pages by seeking ("Older orders",
`before=<placed_at>_<id>`) instead of counting."""

from datetime import datetime
from functools import lru_cache

from django.contrib import admin
from django.contrib.admin.utils import build_q_object_from_lookup_parameters
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR, ChangeList
from django.utils.functional import cached_property
from django.utils.html import format_html

from core.admin_choices import filter_choices_cached
from core.admin_utils import LargeTablePaginator
from inventory.models import Location
from orders.addresses import country_name
from orders.models import OrderStatus
from orders.services import shipby

# The seek: orders placed before `<placed_at ISO>_<id>`.
BEFORE_VAR = "before"


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return OrderStatus.choices

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        # Written as a one-value range, not an equality: PostgreSQL then keeps
        # `status` in the list's ORDER BY (OrderChangeList.get_ordering) and
        # reads the (status, placed_at, id) index in order. With an equality
        # it drops the constant column and may walk the newest-first index,
        # filtering: slow for a status no recent order has ("delivered").
        return queryset.filter(status__gte=self.value(), status__lte=self.value())


class ShipByFilter(admin.SimpleListFilter):
    """Orders still to ship that are due today, or late (through the partial
    ship-by index)."""

    title = "ship by"
    parameter_name = "ship_by"

    def lookups(self, request, model_admin):
        return [("today", "Due to ship today"), ("late", "Late to ship")]

    def queryset(self, request, queryset):
        if self.value() == "today":
            return queryset.filter(shipby.ship_by_due_today_q())
        if self.value() == "late":
            return queryset.filter(shipby.ship_by_late_q())
        return queryset


class ShipCountryFilter(admin.SimpleListFilter):
    """Countries the locations ship to (a DISTINCT over the orders is too slow)."""

    title = "ship-to country"
    parameter_name = "ship_country"

    def lookups(self, request, model_admin):
        return filter_choices_cached("ship_countries", _ship_countries)

    def queryset(self, request, queryset):
        return queryset.filter(ship_country=self.value()) if self.value() else queryset


def _ship_countries() -> list[tuple[str, str]]:
    countries = set()
    for location in Location.objects.filter(active=True):
        countries |= location.ships_to_countries | {str(location.country)}
    return [(code, country_name(code)) for code in sorted(countries)]


class OrderListPaginator(LargeTablePaginator):
    """Numbered pages stop at `max_pages` (a deep OFFSET reads every row before
    it); older orders are reached with "Older orders" (`before`, a seek on the
    newest-first index) or by date (the date hierarchy)."""

    max_pages = 20

    @cached_property
    def num_pages(self) -> int:
        return min(super().num_pages, self.max_pages)

    def page(self, number):
        """Past the first page, find the page's keys first (an index scan that
        skips rows cheaply), then read those rows with the list's joins and
        annotations: an OFFSET would compute them for every skipped row."""
        page = super().page(number)
        if page.start_index() > 1:
            keys = page.object_list.values_list("pk", flat=True)
            page.keys_query = keys
            page.object_list = self.object_list.filter(pk__in=list(keys))
        return page


class OrderChangeList(ChangeList):
    """The order list, with links that page by seeking instead of counting."""

    def get_filters(self, request):
        """The filters, built once per list view (get_queryset asks again for
        the date drill-down; building them reads their choices)."""
        if "_filters" not in self.__dict__:
            self._filters = super().get_filters(request)
        return self._filters

    def older_url(self) -> str | None:
        """Orders placed before the last one shown (newest-first order only)."""
        rows = list(self.result_list)  # the page, already read
        if ORDER_VAR in self.params or len(rows) < self.list_per_page:
            return None
        last = rows[-1]
        key = f"{last.placed_at.isoformat()}_{last.pk}"
        return self.get_query_string({BEFORE_VAR: key}, [PAGE_VAR])

    def newest_url(self) -> str | None:
        if not self.seeking:
            return None
        return self.get_query_string(remove=[PAGE_VAR, BEFORE_VAR])

    def get_ordering(self, request, queryset):
        """Newest first within one status leads with the status: the same
        order, but the planner then reads the (status, placed_at, id) index in
        order instead of filtering the newest-first one (slow for a status
        that no recent order has). See StatusFilter."""
        ordering = super().get_ordering(request, queryset)
        if ORDER_VAR not in self.params and self.params.get(
            StatusFilter.parameter_name
        ):
            return ["status", *ordering]
        return ordering

    def get_queryset(self, request, exclude_parameters=None):
        self.seeking = getattr(request, "oms_before", None) is not None
        queryset = super().get_queryset(request, exclude_parameters)
        self.dates_queryset = queryset
        if self.params.get(StatusFilter.parameter_name):
            # The date drill-down's first and last dates: over the date range
            # only, through the newest-first index (under the status range of
            # StatusFilter, MIN/MAX could walk that index filtering).
            remaining = self.get_filters(request)[2]
            self.dates_queryset = self.root_queryset.filter(
                build_q_object_from_lookup_parameters(remaining)
            )
        return queryset

    def dates_changelist(self):
        """This list, for the date hierarchy (see get_queryset)."""
        if self.dates_queryset is self.queryset:
            return self
        return _DatesOf(self, self.dates_queryset)


class _DatesOf:
    def __init__(self, changelist, queryset):
        self._changelist, self.queryset = changelist, queryset

    def __getattr__(self, name):
        return getattr(self._changelist, name)


@lru_cache(maxsize=64)
def status_badge_html(status: str) -> str:
    """A status as the list shows it (the same for every order of it)."""
    label = OrderStatus(status).label if status in OrderStatus.values else status
    return format_html(
        '<span class="oms-status oms-status-{}">{}</span>', status, label
    )


@lru_cache(maxsize=512)
def ship_to_html(code: str) -> str:
    """A ship-to country as the list shows it: the code, named on hover."""
    return format_html('<abbr title="{}">{}</abbr>', country_name(code), code)


def parse_before(value: str):
    """`<placed_at ISO>_<id>` as (aware datetime, id), or None if malformed."""
    placed, _, pk = value.rpartition("_")
    try:
        moment = datetime.fromisoformat(placed)
        return (moment, int(pk)) if moment.tzinfo else None
    except ValueError:
        return None
