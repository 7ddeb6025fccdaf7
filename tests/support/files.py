"""Files kept in the storage, as tests read and write them."""

from django.db.models.fields.files import FieldFile

from core.files import file_store


def stored_bytes(field_file: FieldFile) -> bytes:
    """Return the bytes of a file a model keeps in the storage."""
    with field_file.storage.open(field_file.name, "rb") as stored:
        return stored.read()


def store(model, field: str, content: bytes, filename: str = "test.bin") -> str:
    """Keep `content` as a file of `model.field`; return its name."""
    return file_store(model=model, field=field, filename=filename, content=content)
