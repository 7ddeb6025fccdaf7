"""What an import did (or would do): `ImportResult`, shown in the admin,
printed by the command and stored by the task."""

from collections.abc import Callable
from dataclasses import dataclass, field

from orders.importing.validate import Problem

Progress = Callable[[str, int, int], None]
PREVIEW_ORDERS = 50
# The problems an import keeps (the first, by row); the others are counted.
PROBLEMS_KEPT = 10_000


@dataclass
class ImportResult:
    format: str = ""
    notices: list[str] = field(default_factory=list)
    orders: int = 0
    lines: int = 0
    new_customers: list[str] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)
    skipped_by_channel: list[tuple[int, str, str]] = field(default_factory=list)
    # (row, external id, problem) of orders imported on hold for an address check.
    held_for_address: list[tuple[int, str, str]] = field(default_factory=list)
    # (row, external id, why) of orders imported on hold because their total
    # differs from the file's or their payment is not taken in yet.
    held_for_money: list[tuple[int, str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Problems found beyond the PROBLEMS_KEPT first (counted, not kept).
    problems_dropped: int = 0
    refused_orders: int = 0
    written: bool = False
    dry_run: bool = False
    order_ids: list[int] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)
    # With `settle`: how many new orders ended fully allocated, on hold (an
    # address check, their total or payment, an intake rule) and backordered.
    allocated: int | None = None
    held: int | None = None
    backordered: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problem_count(self) -> int:
        return len(self.problems) + self.problems_dropped

    def problems_add(self, problems: list[Problem]) -> None:
        """Add problems, keeping the PROBLEMS_KEPT first by row (sorted)."""
        self.problems.extend(problems)
        if len(self.problems) > 2 * PROBLEMS_KEPT:
            self.problems_sort()

    def problems_sort(self) -> None:
        self.problems.sort(key=lambda p: (p.row, p.column))
        self.problems_dropped += max(0, len(self.problems) - PROBLEMS_KEPT)
        del self.problems[PROBLEMS_KEPT:]

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        if not self.written and not self.dry_run and self.problems:
            verb = "imported 0 of"
        text = (
            f"{verb} {self.orders} orders ({self.lines} lines), skipped "
            f"{len(self.skipped_existing)} already imported, {self.problem_count} errors"
        )
        if self.skipped_by_channel:
            text += f", {len(self.skipped_by_channel)} fulfilled or cancelled in the channel"
        if self.held_for_address:
            text += (
                f", {len(self.held_for_address)} on hold for an address check "
                "(see each order's timeline)"
            )
        if self.held_for_money:
            text += (
                f", {len(self.held_for_money)} on hold for their total or payment "
                "(see each order's timeline)"
            )
        return text

    def as_dict(self) -> dict:
        return {
            "format": self.format,
            "notices": self.notices,
            "orders": self.orders,
            "lines": self.lines,
            "new_customers": len(self.new_customers),
            "new_customer_emails": self.new_customers[:PREVIEW_ORDERS],
            "skipped_existing": self.skipped_existing[:1000],
            "skipped_existing_count": len(self.skipped_existing),
            "skipped_by_channel": [list(s) for s in self.skipped_by_channel[:1000]],
            "held_for_address": [list(h) for h in self.held_for_address[:1000]],
            "held_for_money": [list(h) for h in self.held_for_money[:1000]],
            "problems": [str(p) for p in self.problems[:1000]],
            "problem_count": self.problem_count,
            "refused_orders": self.refused_orders,
            "written": self.written,
            "dry_run": self.dry_run,
            "summary": self.summary(),
            "preview": self.preview,
            "allocated": self.allocated,
            "held": self.held,
            "backordered": self.backordered,
        }
