"""A new order as every intake hands it over (`NewOrder`, its `LineInput`s)
and the rows it is written as, unsaved: its money computed
(`orders.money`), the hold it comes in on (`orders.intake`), its lines.

`orders.services.orders` writes them; the order API answers with the draft
before the worker writes it.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from inventory.models import Product
from orders.addresses import Address
from orders.intake import IntakeHold, intake_hold
from orders.models import Channel, Order, OrderLine
from orders.money import ZERO, MoneyLine, Totals, line_total_of, order_totals


@dataclass(frozen=True)
class LineInput:
    """One line of a new order. `product` is None only for a line that does
    not ship and whose SKU names no product; `sku` and `name` default to the
    product's. `total` is the line's total after `discount_amount` as the
    shop sent it (None: quantity × unit price less the discount)."""

    product: Product | None
    quantity: int
    unit_price: Decimal
    discount_amount: Decimal = ZERO
    total: Decimal | None = None
    requires_shipping: bool = True
    sku: str = ""
    name: str = ""
    external_id: str = ""

    @property
    def line_total(self) -> Decimal:
        """The line's total after its discounts."""
        return line_total_of(
            unit_price=self.unit_price,
            quantity=self.quantity,
            discount_amount=self.discount_amount,
            total=self.total,
        )

    @property
    def label(self) -> str:
        """The line as messages name it: its SKU, else its name."""
        return self.sku or (self.product.sku if self.product else "") or self.name


@dataclass(frozen=True)
class OrderMoney:
    """An order's amounts as the shop sent them (`discount_amount` None:
    the lines' discounts added up; `stated_total` None: the shop stated no
    total to compare with)."""

    shipping_amount: Decimal = ZERO
    tax_amount: Decimal = ZERO
    discount_amount: Decimal | None = None
    shipping_discount: Decimal = ZERO
    prices_include_tax: bool = False
    stated_total: Decimal | None = None

    def totals(self, lines: Sequence[LineInput]) -> Totals:
        """The order's subtotal, discount and total as this system computes
        them (`orders.money.order_totals`)."""
        return order_totals(
            lines=[MoneyLine(line.line_total, line.discount_amount) for line in lines],
            discount_amount=self.discount_amount,
            shipping_amount=self.shipping_amount,
            shipping_discount=self.shipping_discount,
            tax_amount=self.tax_amount,
            prices_include_tax=self.prices_include_tax,
        )

    def order_fields(self, lines: Sequence[LineInput]) -> dict:
        """The order's money fields, computed."""
        totals = self.totals(lines)
        return {
            "subtotal": totals.subtotal,
            "discount_amount": totals.discount_amount,
            "shipping_amount": self.shipping_amount,
            "shipping_discount": self.shipping_discount,
            "tax_amount": self.tax_amount,
            "prices_include_tax": self.prices_include_tax,
            "stated_total": self.stated_total,
            "total": totals.total,
        }


@dataclass(frozen=True)
class OrderNotes:
    """What the customer wrote to the shop, and the shop's payment state."""

    note: str = ""
    note_attributes: list[dict[str, str]] = field(default_factory=list)
    discount_codes: list[str] = field(default_factory=list)
    financial_status: str = ""

    def order_fields(self) -> dict:
        return {
            "note": self.note,
            "note_attributes": list(self.note_attributes),
            "discount_codes": list(self.discount_codes),
            "financial_status": self.financial_status,
        }


@dataclass(frozen=True)
class NewOrder:
    """One order for `orders_create_many`: what `order_create` takes, with
    the customer by e-mail, or by phone when they gave no e-mail (found or
    created in bulk)."""

    channel: Channel
    external_id: str
    email: str
    customer_name: str
    customer_phone: str
    address: Address
    lines: Sequence[LineInput]
    # The order's id at its platform (Shopify's numeric id), "" when the
    # channel reference is all there is.
    platform_id: str = ""
    placed_at: datetime | None = None
    currency: str = "USD"
    shipping_amount: Decimal = ZERO
    tax_amount: Decimal = ZERO
    shipping_method: str = ""
    address_problem: str = ""
    inbound_message_id: int | None = None
    # Reserved beforehand (`order_number_next` outside the transaction, so
    # the counter is not held while the order is written); "" reserves one.
    number: str = ""
    discount_amount: Decimal | None = None
    shipping_discount: Decimal = ZERO
    prices_include_tax: bool = False
    stated_total: Decimal | None = None
    notes: OrderNotes = field(default_factory=OrderNotes)

    @property
    def money(self) -> OrderMoney:
        return OrderMoney(
            shipping_amount=self.shipping_amount,
            tax_amount=self.tax_amount,
            discount_amount=self.discount_amount,
            shipping_discount=self.shipping_discount,
            prices_include_tax=self.prices_include_tax,
            stated_total=self.stated_total,
        )

    @property
    def customer_key(self) -> str:
        return customer_key(email=self.email, phone=self.customer_phone)

    def hold(self) -> IntakeHold | None:
        """What the order comes in on hold for, or None."""
        return intake_hold(
            channel=self.channel,
            address_problem=self.address_problem,
            computed_total=self.money.totals(self.lines).total,
            stated_total=self.stated_total,
            financial_status=self.notes.financial_status,
            currency=self.currency,
        )


def customer_key(*, email: str, phone: str) -> str:
    """How a customer is found: the e-mail in lower case, or the phone of
    one who gave no e-mail."""
    email = email.strip().lower()
    return email if email else f"phone:{phone.strip()}"


def order_draft(
    *,
    order: NewOrder,
    number: str,
    placed_at: datetime,
    now: datetime,
    ship_by: date | None = None,
    customer_id: int | None = None,
    hold: IntakeHold | None = None,
) -> Order:
    """The order row `orders_create_many` writes for a new order (unsaved),
    on `hold` when it comes in held (`NewOrder.hold`): the order API answers
    with it before the worker writes it."""
    new = order
    row = Order(
        number=number,
        channel=new.channel,
        external_id=new.external_id,
        platform_id=new.platform_id,
        customer_id=customer_id,
        placed_at=placed_at,
        ship_by=ship_by,
        currency=new.currency,
        shipping_method=new.shipping_method,
        created_at=now,
        updated_at=now,
        **new.money.order_fields(new.lines),
        **new.notes.order_fields(),
        **new.address.as_order_fields(),
    )
    if hold is not None:
        row.hold(hold.reason)
    return row


def order_draft_lines(*, order: Order, new: NewOrder) -> list[OrderLine]:
    """The line rows of `order_draft`'s order (unsaved)."""
    return line_rows(order, new.lines)


def line_rows(order: Order, lines: Sequence[LineInput]) -> list[OrderLine]:
    """Unsaved line rows of `order`, each with its product's SKU and name
    unless the line names its own."""
    return [
        OrderLine(
            order=order,
            product=line.product,
            sku=line.sku or (line.product.sku if line.product else ""),
            name=(line.product.name if line.product else "") or line.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_amount=line.discount_amount,
            total=line.line_total,
            requires_shipping=line.requires_shipping,
            external_id=line.external_id,
        )
        for line in lines
    ]
