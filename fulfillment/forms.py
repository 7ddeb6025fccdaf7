"""Forms of the warehouse steps: packing, shipping (by form or CSV)."""

import csv
import io
import re
from collections.abc import Sequence
from decimal import Decimal

from django import forms

from fulfillment import selectors
from fulfillment.exceptions import TrackingError
from fulfillment.models import Carrier, ExceptionReason, TrackingEvent
from fulfillment.services.shipping import ShipInstruction
from fulfillment.tracking_formats import read_tracking_csv


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


class CarrierServiceForm(forms.Form):
    """A carrier and one of its services, from carriers read once per page
    (pass `carriers=` to share them between the rows of a formset)."""

    NO_CARRIER = "No carrier (collected or own delivery)"

    carrier = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    service = forms.ChoiceField(
        required=False, help_text="The services the carrier offers."
    )

    def __init__(
        self, *args, carriers: Sequence[Carrier] | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        carriers = selectors.carriers_active() if carriers is None else carriers
        self.carriers = {carrier.pk: carrier for carrier in carriers}
        self.fields["carrier"].choices = [
            ("", self.NO_CARRIER),
            *((carrier.pk, carrier.name) for carrier in carriers),
        ]
        # Grouped by carrier: the page's script shows the chosen carrier's.
        self.fields["service"].choices = [
            ("", "—"),
            *(
                (carrier.name, [(name, name) for name in carrier.service_list])
                for carrier in carriers
                if carrier.service_list
            ),
        ]
        self.fields["service"].widget.attrs["data-services-of"] = "carrier"

    def clean(self) -> dict:
        data = super().clean()
        carrier = self.carriers.get(data.get("carrier"))
        data["carrier"] = carrier
        service = data.get("service") or ""
        if service and carrier is None:
            self.add_error("service", f"Choose the carrier of service {service}.")
        elif service and service not in carrier.service_list:
            self.add_error(
                "service",
                f"{carrier.name} offers "
                + (", ".join(carrier.service_list) or "no named service")
                + f", not {service}.",
            )
        data["service"] = service
        return data


class OrderShipForm(CarrierServiceForm, DefaultsOnEmptyPostForm):
    """Ship every packed shipment of one order."""

    tracking_numbers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per packed shipment, in shipment number order, separated "
        "by spaces or new lines.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        default = selectors.carrier_default(list(self.carriers.values()))
        self.fields["carrier"].initial = default.pk if default else None

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


def _row_choices(shipment_ids: Sequence[int]) -> list[tuple[int, int]]:
    return [(pk, pk) for pk in shipment_ids]


class ShipRowForm(CarrierServiceForm):
    """One packed shipment on the bulk ship page."""

    shipment = forms.TypedChoiceField(coerce=int, widget=forms.HiddenInput)
    tracking_number = forms.CharField(
        max_length=64,
        required=False,
        # A scanner types the number and presses Enter: the page's script
        # moves to the next row instead of submitting.
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "off",
                "spellcheck": "false",
                "data-scan": "tracking",
            }
        ),
    )

    def __init__(self, *args, shipment_ids: Sequence[int] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shipment"].choices = _row_choices(shipment_ids)

    def clean(self) -> dict:
        data = super().clean()
        carrier = data.get("carrier")
        tracking = (data.get("tracking_number") or "").strip()
        data["tracking_number"] = tracking
        if carrier and not tracking and "tracking_number" not in self.errors:
            self.add_error(
                "tracking_number", f"Scan or type the {carrier.name} tracking number."
            )
        if tracking and not carrier and "carrier" not in self.errors:
            self.add_error("carrier", f"Choose the carrier of tracking {tracking}.")
        return data


class BaseShipRowFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        """Refuse the same tracking number scanned on two rows."""
        first: dict[tuple[int, str], int] = {}
        for index, form in enumerate(self.forms, start=1):
            data = getattr(form, "cleaned_data", None) or {}
            carrier, tracking = data.get("carrier"), data.get("tracking_number")
            if not carrier or not tracking:
                continue
            key = (carrier.pk, tracking)
            if key in first:
                form.add_error(
                    "tracking_number",
                    f"{tracking} is scanned on row {first[key]} too; scan this "
                    "shipment's own label.",
                )
            else:
                first[key] = index


ShipRowFormSet = forms.formset_factory(ShipRowForm, formset=BaseShipRowFormSet, extra=0)


class PackRowForm(forms.Form):
    """One picked shipment on the bulk pack page: its parcels and weight."""

    shipment = forms.TypedChoiceField(coerce=int, widget=forms.HiddenInput)
    packages = forms.IntegerField(label="parcels", min_value=1, max_value=99, initial=1)
    weight_kg = forms.DecimalField(
        label="weight (kg)",
        min_value=Decimal("0"),
        max_digits=7,
        decimal_places=3,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.001", "data-scan": "weight"}),
    )

    def __init__(self, *args, shipment_ids: Sequence[int] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shipment"].choices = _row_choices(shipment_ids)

    def clean(self) -> dict:
        data = super().clean()
        data["weight_g"] = grams(data.get("weight_kg"))
        return data


PackRowFormSet = forms.formset_factory(PackRowForm, extra=0)


class CsvTextForm(forms.Form):
    """CSV rows pasted or uploaded. After an upload the file's text is put in
    the text box, so a page shown again with problems keeps it for a
    corrected try without choosing the file again."""

    text = forms.CharField(
        label="CSV",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80, "spellcheck": "false"}),
    )
    file = forms.FileField(label="or a CSV file", required=False)

    MAX_BYTES = 2 * 1024 * 1024
    TYPES = {"text/csv", "text/plain", "application/vnd.ms-excel", ""}

    def csv_text(self) -> str:
        upload = self.cleaned_data.get("file")
        if not upload:
            return self.cleaned_data.get("text", "")
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("The file is larger than 2 MB; split it.")
        if not upload.name.lower().endswith((".csv", ".txt")) or (
            upload.content_type not in self.TYPES
        ):
            raise forms.ValidationError(
                f"{upload.name} is not a .csv file. Upload a .csv file "
                "(comma-separated text)."
            )
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise forms.ValidationError(
                "The file is not UTF-8 text; save it as CSV UTF-8."
            ) from error
        self.data = self.data.copy()
        self.data[self.add_prefix("text")] = text
        return text

    def clean(self) -> dict:
        data = super().clean()
        text = self.csv_text()
        if not text.strip():
            raise forms.ValidationError("Paste the CSV rows or choose a file.")
        data["text"] = text
        return data


class ShipCsvForm(CsvTextForm):
    """Rows `shipment,carrier,tracking[,service]`, pasted or uploaded."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["text"].help_text = (
            "One shipment per line: shipment number, carrier code, tracking "
            "number, and optionally the service. A header line is allowed."
        )

    def clean(self) -> dict:
        data = super().clean()
        data["instructions"], data["refused_lines"] = read_ship_csv(data["text"])
        if not data["instructions"] and not data["refused_lines"]:
            raise forms.ValidationError("The CSV holds no shipment rows.")
        return data


def read_ship_csv(
    text: str,
) -> tuple[list[ShipInstruction], list[tuple[int, str]]]:
    """Read `shipment,carrier,tracking[,service]` rows; a header row is skipped.

    Return the good rows and `(line, problem)` for each bad one."""
    instructions: list[ShipInstruction] = []
    errors: list[tuple[int, str]] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() in {"shipment", "shipment number"}:
            continue
        if len(cells) < 3 or not all(cells[:3]):
            errors.append(
                (
                    number,
                    f"Line {number}: expected shipment,carrier,tracking; got "
                    f"{','.join(cells)[:80]!r}.",
                )
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
    return instructions, errors


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


class TrackingCsvForm(CsvTextForm):
    """A carrier's tracking export: one event per row, pasted or uploaded."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["text"].help_text = (
            "Columns: tracking number, status, time, place, description, "
            "estimated delivery, and optionally the exception reason. UTF-8, at "
            "most 2 MB."
        )

    def clean(self) -> dict:
        data = super().clean()
        try:
            data["updates"], data["refused_lines"] = read_tracking_csv(data["text"])
        except TrackingError as error:
            raise forms.ValidationError(error.errors) from error
        return data
