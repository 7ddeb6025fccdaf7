"""Customer e-mails queued: once per event, in the caller's transaction, and
the tasks that send them after commit, retry them and sweep up those left
behind."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.tasks import app, tasks_can_wait
from orders import sql
from orders.emails.sending import (
    CLAIM_STALE_SECONDS,
    MAX_ATTEMPTS,
    customer_emails_send,
)
from orders.models import CustomerEmail, Order

Status = CustomerEmail.Status
# E-mails per send task: one SMTP connection, one claim, one render pass.
EMAIL_BATCH = 200


def customer_email_queue(
    *, order: Order, kind: str, key: str = "", context: dict[str, Any] | None = None
) -> CustomerEmail | None:
    """Queue one e-mail to the order's customer about an event, unless the
    channel mails its own customers or this event was already mailed.

    `key` tells events of the same kind apart (a shipment number, a return);
    the e-mail goes out after the surrounding transaction commits.
    """
    if not order.channel.send_customer_emails or not order.customer.email:
        return None
    unique = f"{kind}:{order.pk}:{key}"
    try:
        with transaction.atomic():
            email = CustomerEmail.objects.create(
                order=order,
                kind=kind,
                key=unique,
                to=order.customer.email,
                context=context or {},
            )
    except IntegrityError:
        return None  # This event was mailed already: never twice.
    customer_emails_send_on_commit(email_ids=[email.pk])
    return email


def customer_emails_queue_many(*, order_ids: Sequence[int], kind: str) -> int:
    """Queue the same kind of e-mail for many orders at once (bulk imports).

    One set-based INSERT; orders whose channel mails its own customers, and
    events already queued, are skipped. The send tasks are enqueued after
    commit, `EMAIL_BATCH` e-mails each. Returns how many were queued.
    """
    order_ids = list(order_ids)
    if not order_ids:
        return 0
    ids = sql.customer_emails_insert_for_orders(
        order_ids=order_ids, kind=kind, now=timezone.now()
    )
    customer_emails_send_on_commit(email_ids=ids)
    return len(ids)


def customer_emails_send_on_commit(*, email_ids: list[int]) -> None:
    """Queue send tasks of `EMAIL_BATCH` e-mails each once the caller's
    transaction commits.

    The e-mail rows are the record, written in the caller's transaction; the
    task only wakes a sender, so it is deferred after the commit: deferred
    inside, every allocating transaction would also NOTIFY the workers at its
    commit (Procrastinate's insert trigger), and PostgreSQL commits notifying
    transactions one at a time (bench_allocation, 8 processes: the first
    phase 18-46 % behind the code before Procrastinate with the defer inside,
    8-15 % after the commit). A wake-up lost to a process dying in between is
    made good by `customer_emails_sweep_task` (every 2 minutes)."""
    for start in range(0, len(email_ids), EMAIL_BATCH):
        batch = email_ids[start : start + EMAIL_BATCH]
        transaction.on_commit(
            lambda batch=batch: customer_emails_send_task.defer(email_ids=batch)
        )


def customer_email_send(*, email_id: int) -> str:
    """Send one queued e-mail; return its status. Safe to call twice."""
    outcome = customer_emails_send(email_ids=[email_id])
    if email_id in outcome:
        return outcome[email_id]
    return CustomerEmail.objects.get(pk=email_id).status


def retry_delay(attempts: int) -> timedelta:
    """Back off: 1, 2, 4, 8 minutes between attempts."""
    return timedelta(minutes=2 ** max(0, attempts - 1))


@app.task()
def customer_emails_send_task(email_ids: list[int]) -> dict[str, int]:
    """Send a batch of queued customer e-mails over one SMTP connection;
    retry the ones the mail server refused, later."""
    outcome = customer_emails_send(email_ids=email_ids)
    retry = sorted(pk for pk, status in outcome.items() if status == Status.QUEUED)
    counts = {"sent": 0, "retry": len(retry), "failed": 0}
    for status in outcome.values():
        if status in (Status.SENT, Status.FAILED):
            counts[status] += 1
    if retry:
        attempts = max(
            CustomerEmail.objects.filter(pk__in=retry).values_list(
                "attempts", flat=True
            )
        )
        # Never at once, never by sleeping: the queue waits, or (in-process
        # backend) the periodic sweep sends it when its delay has passed.
        if tasks_can_wait():
            customer_emails_send_task.configure(
                schedule_at=timezone.now() + retry_delay(attempts)
            ).defer(email_ids=retry)
    return counts


@app.periodic(cron="*/2 * * * *", periodic_id="emails-sweep")
@app.task(queueing_lock="emails-sweep")
def customer_emails_sweep_task(timestamp: int = 0) -> int:
    """Re-enqueue e-mails left behind: queued with no task (a process died
    between commit and enqueue), claimed by a worker that died, or refused
    earlier and due again. Claims make a second task for the same e-mail
    harmless. Returns how many."""
    now = timezone.now()
    stale = now - timedelta(seconds=CLAIM_STALE_SECONDS)
    due_again = Q()
    for attempts in range(1, MAX_ATTEMPTS):
        # Tried and refused: due again once its back-off has passed.
        due_again |= Q(
            status=Status.QUEUED,
            attempts=attempts,
            claimed_at__lt=now - retry_delay(attempts),
        )
    ids = list(
        CustomerEmail.objects.filter(
            Q(status=Status.QUEUED, created_at__lt=stale, attempts=0)
            | Q(status__in=(Status.CLAIMED, Status.SENDING), claimed_at__lt=stale)
            | due_again
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:50_000]
    )
    for start in range(0, len(ids), EMAIL_BATCH):
        customer_emails_send_task.defer(email_ids=ids[start : start + EMAIL_BATCH])
    return len(ids)
