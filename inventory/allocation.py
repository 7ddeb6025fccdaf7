"""Routing: decide which locations an order's lines ship from.

Pure functions over plain data, so the rules can be read and tested apart
from the database. `inventory.services.stock_allocate_many` feeds them locked
stock levels and applies the plan.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple


# Named tuples rather than dataclasses: set-based allocation builds a few
# hundred thousand of them per import, and tuples are made several times faster.
class Demand(NamedTuple):
    """What one order line still needs."""

    line_id: int
    product_id: int
    quantity: int


class Source(NamedTuple):
    """Free stock of one product at one location that may ship the order."""

    stock_level_id: int
    product_id: int
    location_id: int
    location_priority: int
    location_code: str
    available: int


@dataclass
class Plan:
    """Reservations to make: (line, stock level, quantity), and what is short."""

    picks: list[tuple[int, int, int]] = field(default_factory=list)
    short: dict[int, int] = field(default_factory=dict)
    # Units of the order each candidate location could ship on its own: the
    # routing reasons recorded on the order's timeline.
    coverage: dict[int, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.short


def plan_allocation(demands: Sequence[Demand], sources: Sequence[Source]) -> Plan:
    """Route demands to sources.

    One location that can ship everything wins (fewest parcels), the one
    with the best priority first. Otherwise split: repeatedly take the
    location that covers the most outstanding units (priority breaks ties)
    until nothing is outstanding or no location has anything left. Whatever
    is still outstanding is reported as short.
    """
    needed = {d.line_id: d.quantity for d in demands if d.quantity > 0}
    product_of = {d.line_id: d.product_id for d in demands}
    by_location: dict[int, dict[int, Source]] = {}
    rank: dict[int, tuple[int, str]] = {}
    for source in sources:
        if source.available > 0:
            by_location.setdefault(source.location_id, {})[source.product_id] = source
            rank[source.location_id] = (source.location_priority, source.location_code)

    plan = Plan()
    if not needed:
        return plan

    def coverage(location_id: int) -> int:
        # Only the products the order still needs are looked at: a location
        # may hold thousands (the sources of a whole batch).
        stock = by_location[location_id]
        free: dict[int, int] = {}
        covered = 0
        for line_id, quantity in needed.items():
            product_id = product_of[line_id]
            left = free.get(product_id)
            if left is None:
                source = stock.get(product_id)
                left = source.available if source is not None else 0
            take = min(quantity, left)
            free[product_id] = left - take
            covered += take
        return covered

    total = sum(needed.values())
    plan.coverage = {loc: coverage(loc) for loc in by_location}
    whole = [loc for loc, covered in plan.coverage.items() if covered == total]
    order = sorted(whole, key=rank.__getitem__)[:1]
    remaining = set(by_location) - set(order)
    while needed:
        if not order:
            covers = {loc: coverage(loc) for loc in remaining}
            useful = [loc for loc, covered in covers.items() if covered > 0]
            if not useful:
                break
            best = min(useful, key=lambda loc: (-covers[loc], rank[loc]))
            remaining.discard(best)
            order = [best]
        location_id = order.pop()
        _take_from(location_id, by_location[location_id], needed, product_of, plan)

    plan.short = {line_id: qty for line_id, qty in needed.items() if qty > 0}
    return plan


def _take_from(
    location_id: int,
    stock: Mapping[int, Source],
    needed: dict[int, int],
    product_of: Mapping[int, int],
    plan: Plan,
) -> None:
    free: dict[int, int] = {}
    for line_id in list(needed):
        product_id = product_of[line_id]
        if product_id not in free:
            source = stock.get(product_id)
            free[product_id] = source.available if source is not None else 0
        take = min(needed[line_id], free[product_id])
        if take <= 0:
            continue
        free[product_id] -= take
        needed[line_id] -= take
        if needed[line_id] == 0:
            del needed[line_id]
        plan.picks.append((line_id, stock[product_id].stock_level_id, take))


# Candidate locations kept in a routing record: the first few tell the story.
ROUTING_OPTIONS = 6


def routing_record(
    *,
    demands: Sequence[Demand],
    plan: Plan,
    shipped_from: Sequence[str],
    place: Mapping[int, tuple[str, int]],
    not_shipping: set[int],
    pin: int | None = None,
    exclude: frozenset[int] = frozenset(),
) -> dict:
    """Say why `plan` routes the order as it does, as compact JSON for its
    timeline: the units asked for, the candidate locations as [code,
    priority, units each could ship alone] (best first), where it ships
    from, the locations holding the goods that do not ship to the country,
    and a rule's pin and exclusions. `place` maps location ids to (code,
    priority)."""
    units = sum(demand.quantity for demand in demands)
    if not units:
        return {}
    options = [
        [*place[location_id], covered] for location_id, covered in plan.coverage.items()
    ]
    # Best first: most units, then priority, then code.
    options.sort(key=lambda option: (-option[2], option[1], option[0]))
    record: dict = {
        "units": units,
        "options": options[:ROUTING_OPTIONS],
        "from": list(shipped_from),
    }
    if not_shipping or pin is not None or exclude:

        def name(location_id: int) -> str:
            return place.get(location_id, (f"#{location_id}", 0))[0]

        if not_shipping:
            record["no_ship"] = sorted(map(name, not_shipping))
        if pin is not None:
            record["pin"] = name(pin)
        if exclude:
            record["excluded"] = sorted(map(name, exclude))
    return record
