"""Files the system keeps (labels, scan forms, print batches, import files),
through Django's storage API.

The storage is `STORAGES["default"]`: a private folder (MEDIA_ROOT) or an
S3-compatible bucket (docs/operations.md). A model holds a file in a
`FileField` whose column is the stored name (NULL: no file); the bytes are
never in the database and never served from a public URL — the views that
check permissions stream them (`file_response`).

Writing a file may talk to the network (S3), so callers store it *before*
the transaction that locks rows and record only its name there; a
transaction that then rolls back leaves an unreferenced file behind (private,
and rare: a purchase recorded twice, a run whose claim was lost). File names are built from row ids and dates
only: never a customer's name or address.
"""

import hashlib
from collections.abc import Iterable

from django.core.files.base import ContentFile
from django.db.models import FileField, Model
from django.http import FileResponse


class PrivateFileField(FileField):
    """A file kept in the storage, served only by views that check permissions.

    The column holds the stored name, or NULL when there is no file (Django's
    FileField writes "" then, which would make `__isnull` lie).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 255)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def get_prep_value(self, value):
        return super().get_prep_value(value) or None


def file_store(*, model: type[Model], field: str, filename: str, content: bytes) -> str:
    """Store `content` for `model.field` under `filename` (placed in the
    field's folder); return the name kept, which a clash may have changed."""
    file_field: FileField = model._meta.get_field(field)
    name = file_field.generate_filename(None, filename)
    return file_field.storage.save(name, ContentFile(content))


def file_read(*, model: type[Model], field: str, name: str) -> bytes:
    """Return the bytes of a stored file."""
    storage = model._meta.get_field(field).storage
    with storage.open(name, "rb") as stored:
        return stored.read()


def file_open(*, model: type[Model], field: str, name: str):
    """Open a stored file for reading, as a seekable binary file (use it in a
    `with` block): a big file is read a block at a time, never held whole."""
    return model._meta.get_field(field).storage.open(name, "rb")


def file_delete(*, model: type[Model], field: str, names: Iterable[str]) -> int:
    """Delete stored files (a name already gone is no error); return how many
    names were given."""
    storage = model._meta.get_field(field).storage
    count = 0
    for name in names:
        if name:
            storage.delete(name)
            count += 1
    return count


def file_response(
    *,
    model: type[Model],
    field: str,
    name: str,
    filename: str,
    content_type: str = "application/pdf",
    inline: bool = True,
) -> FileResponse:
    """Stream a stored file to the browser under `filename`."""
    storage = model._meta.get_field(field).storage
    response = FileResponse(
        storage.open(name, "rb"), content_type=content_type, filename=filename
    )
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


def content_name(content: bytes, suffix: str) -> str:
    """A file name made from the content's hash: the same bytes, the same name,
    and nothing of what the file says."""
    return f"{hashlib.sha256(content).hexdigest()[:24]}{suffix}"
