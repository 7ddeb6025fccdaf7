"""Import files move from a bytea column into Django's storage (core.files)."""

import core.files
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import migrations, models
from django.utils import timezone

APP = "orders"
SOURCE_SUFFIX = ".csv"
BATCH = 200


def _suffix(data):
    if data.startswith(b"%PDF"):
        return ".pdf"
    if data.startswith(b"\x89PNG"):
        return ".png"
    if b"^XA" in data[:2048]:
        return ".zpl"
    return SOURCE_SUFFIX


def _to_storage(model_name, field, stem):
    """Copy each row's bytes into the storage, in batches, and keep the name."""

    def copy(apps, schema_editor):
        model = apps.get_model(APP, model_name)
        old = f"{field}_bytes"
        month = timezone.now().strftime("%Y/%m")
        folder = model._meta.get_field(field).upload_to.split("%")[0]
        rows = model.objects.filter(**{f"{old}__isnull": False}).order_by("pk")
        last = 0
        while batch := list(rows.filter(pk__gt=last).values_list("pk", old)[:BATCH]):
            for pk, data in batch:
                data = bytes(data)
                name = default_storage.save(
                    f"{folder}{month}/{stem}-{pk}{_suffix(data)}", ContentFile(data)
                )
                model.objects.filter(pk=pk).update(**{field: name})
            last = batch[-1][0]

    return copy


def _from_storage(model_name, field):
    """Put the stored bytes back into the column (the migration undone)."""

    def copy(apps, schema_editor):
        model = apps.get_model(APP, model_name)
        rows = model.objects.filter(**{f"{field}__isnull": False}).exclude(
            **{field: ""}
        )
        for pk, name in rows.values_list("pk", field).iterator(chunk_size=BATCH):
            with default_storage.open(name, "rb") as stored:
                model.objects.filter(pk=pk).update(**{f"{field}_bytes": stored.read()})

    return copy


def _move(model_name, field, stem, new_field, old_field):
    return [
        migrations.RenameField(model_name, field, f"{field}_bytes"),
        migrations.AlterField(model_name, f"{field}_bytes", old_field),
        migrations.AddField(model_name, field, new_field),
        migrations.RunPython(
            _to_storage(model_name, field, stem), _from_storage(model_name, field)
        ),
        migrations.RemoveField(model_name, f"{field}_bytes"),
    ]


class Migration(migrations.Migration):
    dependencies = [("orders", "0033_order_platform_id")]

    operations = _move(
        "importjob",
        "source",
        "import",
        core.files.PrivateFileField(upload_to="imports/%Y/%m/"),
        # Nullable while it is copied out (and when the migration is undone).
        models.BinaryField(null=True, editable=False),
    )
