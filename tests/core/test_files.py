"""Files through Django's storage API: a folder, or an S3-compatible bucket."""

import boto3
import pytest
from moto import mock_aws

from core.files import file_response, file_store
from fulfillment.models import PrintJob, ShipmentPostage
from fulfillment.postage.labels import label_read, label_store

BUCKET = "oms-files"


@pytest.fixture
def s3_storage(settings):
    """The default storage is a bucket (moto stands in for the S3 service)."""
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": BUCKET,
                    "region_name": "us-east-1",
                    "default_acl": "private",
                    "file_overwrite": False,
                    "location": "oms",
                },
            },
        }
        yield boto3.client("s3", region_name="us-east-1")


def test_a_label_goes_to_the_bucket_and_back(s3_storage):
    name = label_store(
        model=ShipmentPostage, stem="shipment-7-shp_1", content=b"%PDF-1.4 label"
    )

    assert name.startswith("labels/") and name.endswith("/shipment-7-shp_1.pdf")
    listed = s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [item["Key"] for item in listed] == [f"oms/{name}"]
    assert label_read(model=ShipmentPostage, name=name) == b"%PDF-1.4 label"


def test_a_second_file_of_the_same_name_never_overwrites_the_first(s3_storage):
    first = label_store(model=ShipmentPostage, stem="shipment-7", content=b"%PDF-1 a")
    second = label_store(model=ShipmentPostage, stem="shipment-7", content=b"%PDF-1 b")

    assert first != second
    assert label_read(model=ShipmentPostage, name=first) == b"%PDF-1 a"


def test_a_stored_file_is_streamed_from_the_bucket(s3_storage):
    name = file_store(
        model=PrintJob, field="pdf", filename="print-batch-1-1.pdf", content=b"%PDF"
    )

    response = file_response(
        model=PrintJob, field="pdf", name=name, filename="slips.pdf"
    )

    assert b"".join(response.streaming_content) == b"%PDF"
    assert response["Content-Disposition"] == 'inline; filename="slips.pdf"'


def test_a_file_in_the_folder_is_named_by_the_hash_not_by_the_upload(settings):
    from orders.importing.jobs import _source_store

    name = _source_store(data=b"sku,quantity\n", filename="Jane Doe orders.CSV")

    assert "Jane" not in name and name.startswith("imports/")
    assert name.endswith(".csv")
