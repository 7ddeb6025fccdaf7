"""Migrations of stored labels: their format read from the bytes (0017), and
the bytes moved from the database into the storage (0020)."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from fulfillment.models.postage import ShipmentPostage
from tests.support.easypost_replay import png_label
from tests.support.files import stored_bytes

BEFORE_STORAGE = ("fulfillment", "0019_shipment_label_warning_and_scans_dated_ahead")
FILES = [png_label(), b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", b"^XA^FDX^FS^XZ"]


@pytest.fixture
def labels_in_the_database(shipped, product):
    """Three shipments whose labels sit in the bytea column of 0019, stored as
    "PDF" whatever came; yields the historical apps, then migrates forward."""
    shipments = [shipped([(product, 1)]).shipments.get() for _ in range(3)]
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE_STORAGE])
    old_apps = executor.loader.project_state(BEFORE_STORAGE).apps
    old_postage = old_apps.get_model("fulfillment", "ShipmentPostage")
    for shipment, data in zip(shipments, FILES, strict=True):
        old_postage.objects.create(
            shipment_id=shipment.pk, label_format="PDF", label_file=data
        )
    try:
        yield old_apps, shipments
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_migrations_read_the_format_then_move_the_bytes_to_the_storage(
    labels_in_the_database,
):
    old_apps, shipments = labels_in_the_database
    migration = importlib.import_module(
        "fulfillment.migrations.0017_label_file_format_read_from_bytes"
    )

    migration.labels_read_from_bytes(old_apps, None)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    postages = [ShipmentPostage.objects.get(shipment=s) for s in shipments]
    assert [p.label_format for p in postages] == ["PNG", "PDF", "ZPL"]
    assert [stored_bytes(p.label_file) for p in postages] == FILES
    assert [p.label_file.name.rsplit(".", 1)[1] for p in postages] == [
        "png",
        "pdf",
        "zpl",
    ]
