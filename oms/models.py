"""Shared building blocks every app may use."""

from django.db import models


class Sequence(models.Model):
    """A named counter for human document numbers (SO-000123, SH-000045)."""

    name = models.CharField(max_length=32, primary_key=True)
    last_value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_value}"
