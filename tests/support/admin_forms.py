"""What the admin's *Add order* form posts: a phone order to Austin, TX with
one line, for tests that type an order in the admin."""


def order_add_form(*, channel, customer, product, **changes) -> dict:
    """The add-order form's fields for one line of `product` (3 × 10.00,
    shipping 10.00, tax 5.95); `changes` replace or add fields."""
    form = {
        "channel": channel.pk,
        "external_id": "PHONE-1",
        "customer": customer.pk,
        "placed_at_0": "2026-11-20",
        "placed_at_1": "10:00:00",
        "priority": 0,
        "ship_name": "Ada",
        "ship_address1": "1 Main St",
        "ship_city": "Austin",
        # A US address needs its state and ZIP code (checked per country).
        "ship_region": "TX",
        "ship_postcode": "78701",
        "ship_country": "US",
        "shipping_method": "Standard",
        "currency": "USD",
        "shipping_amount": "10.00",
        "tax_amount": "5.95",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-product": product.pk,
        "lines-0-quantity": "3",
        "lines-0-unit_price": "10.00",
    }
    form.update(changes)
    return form
