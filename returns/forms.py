"""Forms of the returns admin: one row of fields per line where a step asks
about each item (open, receive, inspect, refund, exchange)."""

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from inventory.models import Location, Product
from orders.models import Order
from returns import selectors
from returns.models import Condition, Resolution, ReturnReason, ReturnRequest
from returns.services.returns import Inspection, ReturnLineInput


class LineRowsForm(forms.Form):
    """A form with a table of per-line fields: `rows` pairs each line's
    description with its bound fields, in `columns` order."""

    columns: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rows: list[tuple[str, list[str]]] = []

    def add_row(self, label: str, fields: dict[str, forms.Field]) -> None:
        self.fields.update(fields)
        self._rows.append((label, list(fields)))

    @property
    def rows(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(label, [self[name] for name in names]) for label, names in self._rows]

    @property
    def plain_fields(self) -> list[forms.BoundField]:
        in_rows = {name for _, names in self._rows for name in names}
        return [
            self[name]
            for name in self.fields
            if name not in in_rows and not self[name].is_hidden
        ]


def _quantity(maximum: int, initial: int = 0) -> forms.IntegerField:
    return forms.IntegerField(
        min_value=0,
        max_value=maximum,
        initial=initial,
        required=False,
        # Sized by the stylesheet: the Content Security Policy allows no
        # style attribute.
        widget=forms.NumberInput(attrs={"class": "oms-quantity"}),
    )


class OrderLookupForm(forms.Form):
    order_number = forms.CharField(
        label="Order number",
        help_text="The SO number, e.g. SO-000123.",
        widget=forms.TextInput(attrs={"autofocus": True}),
    )

    def clean_order_number(self) -> Order:
        number = self.cleaned_data["order_number"].strip().upper()
        order = Order.objects.filter(number=number).first()
        if order is None:
            raise forms.ValidationError(f"There is no order {number}.")
        return order


class OpenReturnForm(LineRowsForm):
    """Which shipped units come back, and why."""

    columns = ("Return", "Reason")
    resolution = forms.ChoiceField(choices=Resolution.choices, initial="refund")
    note = forms.CharField(
        label="Customer's note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, order: Order, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.order = order
        self.lines = list(order.lines.all())
        returnable = selectors.returnable_quantities(order=order)
        for line in self.lines:
            most = returnable[line.pk]
            self.add_row(
                f"{line.sku} · {line.name} — {line.quantity_shipped} shipped, "
                f"{line.quantity_returned} returned, up to {most} returnable",
                {
                    f"quantity_{line.pk}": _quantity(most),
                    f"reason_{line.pk}": forms.ChoiceField(
                        choices=[("", "—"), *ReturnReason.choices], required=False
                    ),
                },
            )

    def clean(self):
        data = super().clean()
        for line in self.lines:
            if data.get(f"quantity_{line.pk}") and not data.get(f"reason_{line.pk}"):
                self.add_error(f"reason_{line.pk}", f"Why is {line.sku} returned?")
        return data

    def line_inputs(self) -> list[ReturnLineInput]:
        return [
            ReturnLineInput(
                order_line=line,
                quantity=self.cleaned_data.get(f"quantity_{line.pk}") or 0,
                reason=self.cleaned_data.get(f"reason_{line.pk}") or "",
            )
            for line in self.lines
            if self.cleaned_data.get(f"quantity_{line.pk}")
        ]


class StepForm(LineRowsForm):
    """Base of the forms on a return's page; each knows its return and carries
    the return's version the page was opened at, so that the service refuses
    a step taken on a stale page."""

    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, return_request: ReturnRequest, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["seen_version"].initial = return_request.version
        self.return_request = return_request
        self.user = user
        self.lines = list(
            return_request.lines.select_related("order_line__product").order_by("pk")
        )

    @property
    def expected_version(self) -> int | None:
        """The version the page was opened at; None when the page did not say."""
        return self.cleaned_data.get("seen_version")


class ApproveForm(StepForm):
    message = forms.CharField(
        label="Instructions to the customer",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Leave empty for the standard instructions. The return label is "
        "attached to the e-mail.",
    )


class RejectForm(StepForm):
    message = forms.CharField(
        label="Message to the customer",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the return is not accepted.",
    )


class ReceiveForm(StepForm):
    columns = ("Received",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for line in self.lines:
            self.add_row(
                f"{line.order_line.sku} · {line.order_line.name} — "
                f"{line.quantity} announced ({line.get_reason_display()})",
                {f"received_{line.pk}": _quantity(line.quantity, line.quantity)},
            )

    def quantities(self) -> dict[int, int]:
        return {
            line.pk: self.cleaned_data.get(f"received_{line.pk}") or 0
            for line in self.lines
        }


class InspectForm(StepForm):
    columns = ("Condition", "Goes to")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        home = selectors.return_location(order=self.return_request.order)
        locations = Location.objects.filter(active=True).order_by("priority", "code")
        self.lines = [line for line in self.lines if line.quantity_received]
        for line in self.lines:
            self.add_row(
                f"{line.quantity_received} × {line.order_line.sku} · "
                f"{line.order_line.name} ({line.get_reason_display()})",
                {
                    f"condition_{line.pk}": forms.ChoiceField(
                        choices=[("", "—"), *Condition.choices],
                        help_text="Damaged units are written off.",
                    ),
                    f"location_{line.pk}": forms.ModelChoiceField(
                        queryset=locations, initial=home
                    ),
                },
            )

    def inspections(self) -> dict[int, Inspection]:
        return {
            line.pk: Inspection(
                condition=self.cleaned_data[f"condition_{line.pk}"],
                location=self.cleaned_data[f"location_{line.pk}"],
            )
            for line in self.lines
        }


class RefundPartsForm(LineRowsForm):
    """What a refund covers besides units; only managers see the reference."""

    columns = ("Refund units",)
    shipping = forms.BooleanField(label="Refund the shipping", required=False)
    amount = forms.DecimalField(
        label="Other amount",
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        required=False,
        help_text="Goodwill or a price adjustment, on top of the units and shipping.",
    )
    reason = forms.CharField(required=False, max_length=255)
    external_reference = forms.CharField(
        label="Payment reference",
        required=False,
        max_length=100,
        help_text="Managers: the refund's id in the payment system once it is sent "
        "approves the refund now. Leave empty to propose it for approval.",
    )

    def hide_reference_unless_manager(self, user) -> None:
        if not (user and user.has_perm("returns.approve_refund")):
            del self.fields["external_reference"]


class RefundForm(RefundPartsForm, StepForm):
    """A refund of a return's received units."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lines = [line for line in self.lines if line.quantity_received]
        for line in self.lines:
            self.add_row(
                f"{line.order_line.sku} · {line.order_line.name} — "
                f"{line.quantity_received} came back at {line.order_line.unit_total} "
                "each, after discounts",
                {
                    f"refund_{line.pk}": _quantity(
                        line.quantity_received, line.quantity_received
                    )
                },
            )
        self.hide_reference_unless_manager(self.user)

    def line_quantities(self) -> dict[int, int]:
        return {
            line.order_line_id: self.cleaned_data.get(f"refund_{line.pk}") or 0
            for line in self.lines
        }


class OrderRefundForm(RefundPartsForm):
    """A refund on an order without a return (late delivery, a lost parcel)."""

    def __init__(self, *args, order: Order, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.order = order
        self.lines = list(order.lines.all())
        for line in self.lines:
            self.add_row(
                f"{line.sku} · {line.name} — {line.quantity} ordered, "
                f"{line.quantity_shipped} shipped, at {line.unit_total} each after "
                "discounts",
                {f"refund_{line.pk}": _quantity(line.quantity)},
            )
        self.hide_reference_unless_manager(user)

    def line_quantities(self) -> dict[int, int]:
        return {
            line.pk: self.cleaned_data.get(f"refund_{line.pk}") or 0
            for line in self.lines
        }


class ExchangeForm(StepForm):
    columns = ("Replace with", "Units")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lines = [line for line in self.lines if line.quantity_received]
        products = Product.objects.filter(active=True).order_by("sku")
        for line in self.lines:
            self.add_row(
                f"{line.quantity_received} × {line.order_line.sku} came back "
                f"({line.get_reason_display()})",
                {
                    f"product_{line.pk}": forms.ModelChoiceField(
                        queryset=products, initial=line.order_line.product_id
                    ),
                    f"quantity_{line.pk}": _quantity(
                        line.quantity_received, line.quantity_received
                    ),
                },
            )

    def items(self) -> list[tuple[Product, int]]:
        return [
            (
                self.cleaned_data[f"product_{line.pk}"],
                self.cleaned_data.get(f"quantity_{line.pk}") or 0,
            )
            for line in self.lines
        ]


class CloseForm(StepForm):
    note = forms.CharField(
        required=False,
        max_length=255,
        help_text="Why the return ends without refund or exchange.",
    )


class ScanForm(forms.Form):
    code = forms.CharField(
        label="RMA number or barcode",
        max_length=40,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
        help_text="Scan the barcode on the return label, or type the number.",
    )

    def clean_code(self) -> ReturnRequest:
        code = "".join(self.cleaned_data["code"].split()).upper()
        if code.isdigit():
            code = f"RMA-{int(code):06d}"
        return_request = ReturnRequest.objects.filter(number=code).first()
        if return_request is None:
            raise forms.ValidationError(f"There is no return {code}.")
        return return_request


class RefundApproveForm(forms.Form):
    external_reference = forms.CharField(
        label="Payment reference",
        max_length=100,
        help_text="The refund's id in the payment system, once the money is sent.",
    )


class RefundRejectForm(forms.Form):
    note = forms.CharField(required=False, max_length=255)


class ReportForm(forms.Form):
    start = forms.DateField(
        label="Orders placed from", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(label="to", widget=forms.DateInput(attrs={"type": "date"}))

    @classmethod
    def default_range(cls):
        today = timezone.localdate()
        return today - timedelta(days=89), today

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The start date must not be after the end.")
        if start and end and (end - start).days > 3660:
            raise forms.ValidationError("Choose a range of at most ten years.")
        return data
