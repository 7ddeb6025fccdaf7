"""End of day: a *scan form* (EasyPost ScanForm, the carrier's manifest)
for a location's labels bought on a day through one EasyPost carrier
account — one form per carrier the labels are from (USPS, UPS, …), as
EasyPost makes them per carrier.

Creating reads: plan under lock (a `ScanForm` row per carrier, its labels
claimed so no second form takes them and no void runs on them), call
EasyPost with no transaction or lock, record the answer; the form's PDF is
fetched by a worker after commit and served from the admin. A call that
timed out leaves the form `unknown`: the next try looks the first label's
EasyPost shipment up and takes the form found there, so a retry never makes
a second form. EasyPost's refusal frees the labels and keeps its message.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import ngettext

from core.exceptions import DomainError
from core.files import file_delete, file_store
from core.tasks import app, defer_in_transaction
from core.users import Actor, acting_user
from fulfillment.exceptions import FulfillmentError
from fulfillment.locks import lock_postages_for_scan_form, lock_scan_form
from fulfillment.models import Carrier, ShipmentStatus
from fulfillment.models.postage import ScanForm, ShipmentPostage
from fulfillment.postage import client
from fulfillment.postage.rates import easypost_key
from inventory.models import Location

CREATING = "creating"
UNKNOWN = "unknown"
FAILED = "failed"


@dataclass(frozen=True)
class FormPlan:
    form_id: int
    label_carrier: str
    api_key: str
    easypost_ids: list[str]
    look_up_first: bool


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


def scan_form_labels_waiting(*, location: Location, carrier: Carrier, day: date) -> int:
    """Count the labels a scan form for this day would take: bought at the
    location through the carrier, shipped, on no form yet (or on one whose
    creation timed out)."""
    return (
        ShipmentPostage.objects.filter(
            carrier=carrier,
            shipment__location=location,
            status=ShipmentPostage.Status.BOUGHT,
            shipment__status=ShipmentStatus.SHIPPED,
            bought_at__range=_day_bounds(day),
        )
        .exclude(easypost_shipment_id="")
        .filter(Q(scan_form__isnull=True) | Q(scan_form__status=UNKNOWN))
        .count()
    )


def scan_forms_nothing_to_do(*, location: Location, carrier: Carrier, day: date) -> str:
    """Say that no label of the day waits for a form."""
    when = "today" if day == timezone.localdate() else f"on {day:%Y-%m-%d}"
    return (
        f"No labels bought {when} at {location.code} through {carrier.name} "
        "wait for a form: nothing to put on a scan form."
    )


@transaction.atomic
def _form_plans(
    *, location: Location, carrier: Carrier, day: date, actor: Actor
) -> list[FormPlan]:
    api_key = easypost_key(carrier)
    locked = lock_postages_for_scan_form(
        carrier=carrier, location=location, bought_between=_day_bounds(day)
    )
    plans: list[FormPlan] = []
    # Forms whose creation timed out: asked again, after a look-up.
    unknown: dict[int, list[ShipmentPostage]] = defaultdict(list)
    fresh: dict[str, list[ShipmentPostage]] = defaultdict(list)
    for postage in locked:
        if postage.scan_form_id is None:
            fresh[postage.label_carrier].append(postage)
        elif postage.scan_form.status == UNKNOWN:
            unknown[postage.scan_form_id].append(postage)
    for form_id, postages in unknown.items():
        ScanForm.objects.filter(pk=form_id).update(status=CREATING, message="")
        plans.append(
            FormPlan(
                form_id=form_id,
                label_carrier=postages[0].label_carrier,
                api_key=api_key,
                easypost_ids=[p.easypost_shipment_id for p in postages],
                look_up_first=True,
            )
        )
    for label_carrier, postages in sorted(fresh.items()):
        form = ScanForm.objects.create(
            location=location,
            carrier=carrier,
            day=day,
            label_carrier=label_carrier[:64],
            status=CREATING,
            tracking_codes=[p.tracking_code for p in postages],
            created_by=acting_user(actor),
        )
        ShipmentPostage.objects.filter(pk__in=[p.pk for p in postages]).update(
            scan_form=form, updated_at=timezone.now()
        )
        plans.append(
            FormPlan(
                form_id=form.pk,
                label_carrier=label_carrier,
                api_key=api_key,
                easypost_ids=[p.easypost_shipment_id for p in postages],
                look_up_first=False,
            )
        )
    if not plans:
        raise FulfillmentError(
            scan_forms_nothing_to_do(location=location, carrier=carrier, day=day)
        )
    return plans


def _form_call(plan: FormPlan) -> dict:
    if plan.look_up_first:
        found = client.shipment_retrieve(plan.api_key, plan.easypost_ids[0])
        form = found.get("scan_form")
        if isinstance(form, dict) and form.get("id"):
            return form
    return client.scan_form_create(plan.api_key, plan.easypost_ids)


@transaction.atomic
def _form_record(plan: FormPlan, answer: dict | None, error: DomainError | None):
    form = lock_scan_form(plan.form_id)
    if form.status != CREATING:
        return form
    if answer is not None:
        form.easypost_id = answer.get("id", "")[:64]
        form.status = (answer.get("status") or "created")[:20]
        form.form_url = (answer.get("form_url") or "")[:500]
        form.tracking_codes = answer.get("tracking_codes") or form.tracking_codes
        form.message = (answer.get("message") or "")[:500]
        form.save()
        if form.form_url:
            defer_in_transaction(
                lambda: scan_form_file_fetch_task.defer(form_id=form.pk)
            )
        return form
    form.message = str(error)[:500]
    if isinstance(error, client.PostageUnavailable):
        form.status = UNKNOWN
    else:
        # Refused: its labels are free again (to void, or for another form).
        form.status = FAILED
        ShipmentPostage.objects.filter(scan_form=form).update(scan_form=None)
    form.save(update_fields=["status", "message"])
    return form


def scan_forms_create(
    *, location: Location, carrier: Carrier, day: date | None = None, actor: Actor
) -> list[ScanForm]:
    """Make the end-of-day scan forms of a location's labels bought on `day`
    (today) through `carrier`, one per carrier of the labels; return them
    (a refused one has status failed and EasyPost's message)."""
    day = day or timezone.localdate()
    forms = []
    for plan in _form_plans(location=location, carrier=carrier, day=day, actor=actor):
        try:
            answer, error = _form_call(plan), None
        except DomainError as failure:
            answer, error = None, failure
        forms.append(_form_record(plan, answer, error))
    return forms


@app.task()
def scan_forms_create_task(
    location_id: int, carrier_id: int, day: str, actor_id: int | None = None
) -> str:
    """Make scan forms in the background (the admin's End of day page)."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        forms = scan_forms_create(
            location=Location.objects.get(pk=location_id),
            carrier=Carrier.objects.get(pk=carrier_id),
            day=date.fromisoformat(day),
            actor=actor,
        )
    except DomainError as error:
        return str(error)
    return "; ".join(
        f"{form.label_carrier}: {form.status} {form.message}".strip() for form in forms
    )


def scan_form_file_fetch(*, form_id: int) -> ScanForm:
    """Fetch a created form's PDF (no lock while it downloads) and keep it."""
    form = ScanForm.objects.get(pk=form_id)
    if form.form_file or not form.form_url:
        return form
    try:
        data = client.file_download(form.form_url)
    except DomainError as error:
        ScanForm.objects.filter(pk=form_id).update(
            message=f"The form's PDF could not be fetched: {error}"[:500]
        )
        raise
    name = file_store(
        model=ScanForm,
        field="form_file",
        filename=f"scan-form-{form_id}.pdf",
        content=data,
    )
    kept = ScanForm.objects.filter(pk=form_id, form_file__isnull=True).update(
        form_file=name, message=""
    )
    if not kept:  # another fetch kept its copy first
        file_delete(model=ScanForm, field="form_file", names=[name])
    form.refresh_from_db()
    return form


@app.task()
def scan_form_file_fetch_task(form_id: int) -> str:
    try:
        form = scan_form_file_fetch(form_id=form_id)
    except DomainError as error:
        return str(error)
    return form.form_file.name if form.form_file else "no file"


@app.periodic(cron="*/5 * * * *", periodic_id="scan-forms-due")
@app.task(queueing_lock="scan-forms-due")
def scan_form_files_fetch_due(timestamp: int = 0) -> str:
    """Scheduled: fetch the PDFs of created forms whose fetch failed or whose
    task was lost."""
    due = ScanForm.objects.filter(form_file__isnull=True).exclude(form_url="")
    fetched = 0
    for form_id in due.order_by("pk").values_list("pk", flat=True)[:50]:
        try:
            scan_form_file_fetch(form_id=form_id)
        except DomainError:
            continue
        fetched += 1
    return ngettext("%(count)d form fetched", "%(count)d forms fetched", fetched) % {
        "count": fetched
    }
