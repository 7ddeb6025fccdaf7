"""Scheduled waves under real concurrency (PostgreSQL, OS processes): workers
running the same wave slot at the same moment make one wave."""

import datetime
import multiprocessing

import pytest
from django.db import connections
from django.utils import timezone

from fulfillment.models import PickList, PickWave
from orders.models import Order, OrderStatus

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 4


def _race(job, arguments):
    """Run `job(barrier, *args)` in one process per argument tuple, all let
    go at the same moment; return their answers."""
    connections.close_all()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(arguments))
    answers = context.Queue()

    def run(each):
        try:
            answers.put(job(barrier, *each))
        except Exception as error:  # reported to the test, not lost in a child
            answers.put(f"error: {error!r}")

    processes = [context.Process(target=run, args=(each,)) for each in arguments]
    for process in processes:
        process.start()
    results = [answers.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return results


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
    answers = _race(_run_waves, [(now.isoformat(),)] * RACERS)
    assert sorted(answers) == ["made 0"] * (RACERS - 1) + ["made 1"], answers
    assert PickWave.objects.count() == 1
    assert PickList.objects.count() == 1
    assert set(
        Order.objects.filter(pk__in=[o.pk for o in orders]).values_list(
            "status", flat=True
        )
    ) == {OrderStatus.PICKING}
