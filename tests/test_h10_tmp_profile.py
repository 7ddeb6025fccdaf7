from django.db import connection
from django.test.utils import CaptureQueriesContext
from orders.services.api_keys import channel_api_key_create
from tests import factories
from tests.test_api import order_body

def test_profile(client, channel, stock, product):
    key = channel_api_key_create(channel=channel, name="s")[1]
    ps = [product, *(factories.ProductFactory(sku=f"SPD-{n}") for n in range(4))]
    for p in ps: stock(p, 50)
    def post(ext, n):
        return client.post("/api/v1/orders", order_body(ext, lines=[{"sku": p.sku, "quantity": 2, "unit_price": "5.00"} for p in ps[:n]]), content_type="application/json", headers={"Authorization": f"Bearer {key}"})
    post("W", 1)
    for n in (1, 3):
        with CaptureQueriesContext(connection) as ctx:
            assert post(f"N{n}", n).status_code == 201
        q = [x["sql"] for x in ctx.captured_queries]
        print("\nPROFILE", connection.vendor, "lines", n, "total", len(q), "statements", len([x for x in q if not x.startswith(("SAVEPOINT", "RELEASE"))]))
        if n == 3:
            for x in q: print("   SQL", x[:110])
