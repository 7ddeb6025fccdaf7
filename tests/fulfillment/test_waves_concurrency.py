"""Scheduled waves under real concurrency (PostgreSQL, OS processes): workers
running the same wave slot at the same moment make one wave."""

import datetime

import pytest
from django.db import connections
from django.utils import timezone

from fulfillment.models import PickList, PickWave
from orders.models import Order, OrderStatus
from tests.support.races import race

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 4


def _run_waves(barrier, now_iso: str) -> str:
    from fulfillment.services.waves import pick_waves_run_due

    barrier.wait()
    try:
        made = pick_waves_run_due(now=datetime.datetime.fromisoformat(now_iso))
    finally:
        connections.close_all()
    return f"made {len(made)}"


def test_workers_racing_on_one_slot_make_one_wave(
    place_order, product, stock, location
):
    location.wave_times = "09:00"
    location.save()
    stock(product, 50)
    orders = [place_order([(product, 1)]) for _ in range(5)]
    now = timezone.make_aware(datetime.datetime(2026, 11, 18, 9, 2))
    answers = race(_run_waves, [(now.isoformat(),)] * RACERS, timeout=120)
    assert sorted(answers) == ["made 0"] * (RACERS - 1) + ["made 1"], answers
    assert PickWave.objects.count() == 1
    assert PickList.objects.count() == 1
    assert set(
        Order.objects.filter(pk__in=[o.pk for o in orders]).values_list(
            "status", flat=True
        )
    ) == {OrderStatus.PICKING}
