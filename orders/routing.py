"""Routing reasons in words: why an allocation ships from where it does.

Allocation records its reasons as compact JSON on the order's *Stock
allocated* (or *Backordered*) timeline entry (`inventory.allocation.
routing_record`); the order page shows them under that entry, read with the
timeline itself, so they cost no query of their own.
"""

from collections.abc import Mapping
from typing import Any

from django.utils.translation import ngettext


def _units(units: int) -> str:
    return ngettext("%(count)d unit", "%(count)d units", units) % {"count": units}


def routing_text(routing: Mapping[str, Any]) -> str:
    """Say in a few short sentences why the order ships from where it does."""
    units = routing.get("units", 0)
    chosen = list(routing.get("from") or [])
    options = [tuple(option) for option in routing.get("options") or []]
    covers = {code: covered for code, _priority, covered in options}
    priority = {code: rank for code, rank, _covered in options}
    sentences = []
    if not chosen:
        sentences.append(
            f"Nothing reserved: no location could ship the {_units(units)} asked for"
            + (" in full." if options else ".")
        )
    elif len(chosen) == 1:
        code = chosen[0]
        if covers.get(code) == units:
            sentences.append(
                f"Ships from {code}: it has all {_units(units)} "
                f"(priority {priority.get(code, '—')})."
            )
        else:
            sentences.append(
                f"Ships from {code}: the most of the {_units(units)} any location "
                f"has ({covers.get(code, 0)})."
            )
    else:
        sentences.append(
            f"Split across {', '.join(chosen)}: no single location has all "
            f"{_units(units)}."
        )
    if routing.get("pin"):
        sentences.append(f"Pinned by a rule: {routing['pin']}.")
    if routing.get("excluded"):
        sentences.append(f"Excluded by a rule: {', '.join(routing['excluded'])}.")
    others = [
        f"{code} {covered}/{units} (priority {rank})"
        for code, rank, covered in options
        if code not in chosen
    ]
    if others:
        sentences.append(f"Also could ship: {'; '.join(others)}.")
    if routing.get("no_ship"):
        sentences.append(
            f"Not shipping to this country: {', '.join(routing['no_ship'])}."
        )
    return " ".join(sentences)
