"""What the dashboard reads instead of counting millions of rows.

- `OrderTally`: orders counted by the hour they were placed (UTC), channel and
  status. The database keeps it exact: triggers declared on the order model
  (`core.tally_triggers`, django-pgtrigger) write the changes of each
  statement to `OrderTallyChange` in the same transaction as the order, and the periodic `oms.tallies.tallies_fold`
  adds them into `OrderTally`. Readers add both, so a count is exact and
  live whether the fold ran a second or an hour ago.
- `ShipmentTally`: shipments counted by status and estimated delivery date
  (`NO_ESTIMATE` for none), kept the same way: late and exception counts.
- `DashboardFigure`: figures over history (median hours to ship, returns by
  reason) computed by the periodic `oms.dashboard.dashboard_figures_refresh`.
"""

from django.db import models

from core.tally_triggers import NO_ESTIMATE

__all__ = [
    "NO_ESTIMATE",
    "DashboardFigure",
    "OrderTally",
    "OrderTallyChange",
    "ShipmentTally",
    "ShipmentTallyChange",
]


class OrderTally(models.Model):
    hour = models.DateTimeField(help_text="The hour the orders were placed (UTC).")
    channel_id = models.BigIntegerField()
    status = models.CharField(max_length=20)
    orders = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "channel_id", "status"], name="order_tally_unique"
            )
        ]
        indexes = [models.Index(fields=["status"], name="order_tally_status")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.status}: {self.orders}"


class OrderTallyChange(models.Model):
    """Written only by the database triggers; folded into OrderTally."""

    hour = models.DateTimeField()
    channel_id = models.BigIntegerField()
    status = models.CharField(max_length=20)
    change = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.status}: {self.change:+d}"


class ShipmentTally(models.Model):
    status = models.CharField(max_length=20)
    estimated_delivery = models.DateField()
    shipments = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["status", "estimated_delivery"], name="shipment_tally_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.estimated_delivery}: {self.shipments}"


class ShipmentTallyChange(models.Model):
    """Written only by the database triggers; folded into ShipmentTally."""

    status = models.CharField(max_length=20)
    estimated_delivery = models.DateField()
    change = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.status} {self.estimated_delivery}: {self.change:+d}"


class DashboardFigure(models.Model):
    name = models.CharField(max_length=40, primary_key=True)
    value = models.JSONField()
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name
