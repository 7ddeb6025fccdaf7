"""Scheduled pick waves: the record of each wave a location's schedule made."""

from django.db import models

from fulfillment.models.shipments import PickList
from inventory.models import Location


class PickWave(models.Model):
    """One scheduled wave: the location, the slot it ran for, what it made.

    A slot runs once (the unique key below, inserted first by
    `pick_wave_run`): a wave run twice for the same location and time makes
    one wave.
    """

    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="pick_waves"
    )
    scheduled_for = models.DateTimeField(help_text="The wave time it ran for.")
    pick_lists = models.ManyToManyField(PickList, blank=True, related_name="waves")
    order_count = models.PositiveIntegerField("orders", default=0)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scheduled_for", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "scheduled_for"], name="pickwave_slot_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.location.code} wave {self.scheduled_for:%Y-%m-%d %H:%M}"
