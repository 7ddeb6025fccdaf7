"""Forms of the warehouse steps: packing, shipping (by form or CSV)."""

import csv
import io
import re
from decimal import Decimal

from django import forms

from fulfillment.exceptions import TrackingError
from fulfillment.models import Carrier, ExceptionReason, Shipment, TrackingEvent
from fulfillment.services.shipping import ShipInstruction
from fulfillment.tracking_formats import parse_tracking_csv


class DefaultsOnEmptyPostForm(forms.Form):
    """A form whose fields are all optional: a plain button press (a POST
    without fields) means "use the defaults" rather than "show the form"."""

    def is_valid(self) -> bool:
        if not self.is_bound:
            self.is_bound, self.data, self._errors = True, {}, None
        return super().is_valid()


def grams(weight_kg: Decimal | None) -> int | None:
    return None if weight_kg is None else int((weight_kg * 1000).to_integral_value())


class PackForm(DefaultsOnEmptyPostForm):
    packages = forms.IntegerField(
        label="parcels", min_value=1, max_value=99, required=False, initial=1
    )
    weight_kg = forms.DecimalField(
        label="weight (kg)",
        min_value=Decimal("0"),
        max_digits=7,
        decimal_places=3,
        required=False,
        help_text="Per shipment. Leave empty to add up the product weights.",
    )

    def clean(self) -> dict:
        data = super().clean()
        return {
            "packages": data.get("packages") or 1,
            "weight_g": grams(data.get("weight_kg")),
        }


def _carrier_field(required: bool) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        Carrier.objects.filter(active=True),
        required=required,
        empty_label=None if required else "No carrier (collected or own delivery)",
    )


class OrderShipForm(DefaultsOnEmptyPostForm):
    """Ship every packed shipment of one order."""

    carrier = _carrier_field(required=False)
    service = forms.CharField(max_length=64, required=False)
    tracking_numbers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per packed shipment, in shipment number order, separated "
        "by spaces or new lines.",
    )

    def clean(self) -> dict:
        data = super().clean()
        numbers = re.split(r"[\s,;]+", data.get("tracking_numbers", "").strip())
        numbers = [n for n in numbers if n]
        if data.get("carrier") and not numbers:
            raise forms.ValidationError("Give the tracking number of each shipment.")
        return {
            "carrier": data.get("carrier"),
            "service": data.get("service", ""),
            "tracking_numbers": numbers,
        }


class ShipRowForm(forms.Form):
    """One packed shipment on the bulk ship page."""

    shipment = forms.ModelChoiceField(Shipment.objects.all(), widget=forms.HiddenInput)
    carrier = _carrier_field(required=False)
    service = forms.CharField(max_length=64, required=False)
    tracking_number = forms.CharField(max_length=64, required=False)


ShipRowFormSet = forms.formset_factory(ShipRowForm, extra=0)


class ShipCsvForm(forms.Form):
    """Rows `shipment,carrier,tracking[,service]`, pasted or uploaded."""

    text = forms.CharField(
        label="CSV",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 60}),
        help_text="One shipment per line: shipment number, carrier code, tracking "
        "number, and optionally the service. A header line is allowed.",
    )
    file = forms.FileField(label="or a CSV file", required=False)

    MAX_BYTES = 2 * 1024 * 1024

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("file")
        if upload:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError("The file is larger than 2 MB.")
            if not upload.name.lower().endswith((".csv", ".txt")):
                raise forms.ValidationError(
                    f"{upload.name} is not a .csv file; upload comma-separated text."
                )
            raw = upload.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as error:
                raise forms.ValidationError(
                    "The file is not UTF-8 text; save it as CSV UTF-8."
                ) from error
        else:
            text = data.get("text", "")
        if not text.strip():
            raise forms.ValidationError("Paste the CSV rows or choose a file.")
        data["instructions"] = parse_ship_csv(text)
        return data


def parse_ship_csv(text: str) -> list[ShipInstruction]:
    """Read `shipment,carrier,tracking[,service]` rows; a header row is skipped."""
    instructions: list[ShipInstruction] = []
    errors: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() in {"shipment", "shipment number"}:
            continue
        if len(cells) < 3 or not all(cells[:3]):
            errors.append(
                f"Line {number}: expected shipment,carrier,tracking; got "
                f"{','.join(cells)[:80]!r}."
            )
            continue
        instructions.append(
            ShipInstruction(
                row=number,
                shipment=cells[0].upper(),
                carrier=cells[1].lower(),
                tracking_number=cells[2],
                service=cells[3] if len(cells) > 3 else "",
            )
        )
    if errors:
        raise forms.ValidationError(errors[:20])
    if not instructions:
        raise forms.ValidationError("The CSV holds no shipment rows.")
    return instructions


class TrackingEventForm(forms.Form):
    """One tracking event typed in from the carrier's site or a phone call."""

    status = forms.ChoiceField(choices=TrackingEvent.Status.choices)
    exception_reason = forms.ChoiceField(
        choices=[("", "—"), *ExceptionReason.choices],
        required=False,
        help_text="What went wrong, for an exception.",
    )
    occurred_at = forms.DateTimeField(
        label="when",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="In the site's time zone.",
    )
    place = forms.CharField(max_length=120, required=False)
    description = forms.CharField(max_length=255, required=False)
    estimated_delivery = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The carrier's new delivery date, if it gave one.",
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("status") == TrackingEvent.Status.EXCEPTION and not data.get(
            "exception_reason"
        ):
            self.add_error("exception_reason", "Say what went wrong.")
        return data


class TrackingCsvForm(forms.Form):
    """A carrier's tracking export: one event per row."""

    file = forms.FileField(
        label="CSV file",
        help_text="Columns: tracking number, status, time, place, description, "
        "estimated delivery, and optionally the exception reason. UTF-8, at "
        "most 2 MB.",
    )

    MAX_BYTES = 2 * 1024 * 1024
    TYPES = {"text/csv", "text/plain", "application/vnd.ms-excel", ""}

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("The file is larger than 2 MB; split it.")
        if not upload.name.lower().endswith((".csv", ".txt")) or (
            upload.content_type not in self.TYPES
        ):
            raise forms.ValidationError("Upload a .csv file (comma-separated text).")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise forms.ValidationError(
                "The file is not UTF-8 text; save it as CSV UTF-8."
            ) from error
        try:
            self.cleaned_data["updates"] = parse_tracking_csv(text)
        except TrackingError as error:
            raise forms.ValidationError(error.errors[:50]) from error
        return upload
