"""Secrets at rest: shop tokens, webhook secrets, carrier keys encrypted in
the database with keys from the environment.

`OMS_FIELD_ENCRYPTION_KEYS` holds Fernet keys separated by commas: the first
encrypts, every one decrypts (`cryptography`'s MultiFernet). Rotation
(docs/operations.md): put a new key first, restart, run
`manage.py secrets_reencrypt`, then drop the old key.

A field of our own rather than django-fernet-encrypted-fields: that library
derives its keys from SECRET_KEY (with SALT_KEY), so rotating Django's
signing key would change the data key too, and a value it cannot decrypt is
returned as the stored ciphertext instead of failing; here the keys are
plain Fernet keys of their own, and a missing key stops with a message.
Empty values stay empty (unencrypted), so "is it set?" needs no key.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "OMS_FIELD_ENCRYPTION_KEYS is empty: set at least one Fernet key "
            "(docs/operations.md)."
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "OMS_FIELD_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe "
            f"base64-encoded bytes each), separated by commas: {error}"
        ) from error


def fernet() -> MultiFernet:
    """Return the MultiFernet of the configured keys (first one encrypts)."""
    return _fernet(tuple(settings.OMS_FIELD_ENCRYPTION_KEYS))


def secret_encrypt(value: str) -> str:
    """Encrypt a secret with the first key."""
    return fernet().encrypt(value.encode()).decode()


def secret_decrypt(token: str) -> str:
    """Decrypt a secret with whichever configured key encrypted it."""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with any key of "
            "OMS_FIELD_ENCRYPTION_KEYS: the key that encrypted it is missing "
            "(docs/operations.md, key rotation)."
        ) from error


def secret_reencrypt(token: str) -> str:
    """Return the token encrypted again with the first key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with any key of "
            "OMS_FIELD_ENCRYPTION_KEYS; keep the old key until it is re-encrypted."
        ) from error


def columns_encrypt(schema_editor, *, table: str, columns: list[str]) -> None:
    """Encrypt the plain values of text columns in place (a migration's step:
    the columns just became EncryptedTextFields)."""
    _columns_change(schema_editor, table, columns, secret_encrypt)


def columns_decrypt(schema_editor, *, table: str, columns: list[str]) -> None:
    """Decrypt encrypted text columns in place (that migration undone)."""
    _columns_change(schema_editor, table, columns, secret_decrypt)


def _columns_change(schema_editor, table, columns, change) -> None:
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        for column in columns:
            cursor.execute(
                f"SELECT id, {quote(column)} FROM {quote(table)} "
                f"WHERE {quote(column)} <> ''"
            )
            cursor.executemany(
                f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s",
                [(change(value), pk) for pk, value in cursor.fetchall()],
            )


class EncryptedTextField(models.TextField):
    """A text column holding its value Fernet-encrypted (see the module).

    `max_length` limits what may be typed (forms), not the column: the
    ciphertext is longer than the secret. Lookups on the value cannot match
    (each encryption differs), except the empty value.
    """

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return secret_encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return secret_decrypt(value)


def secrets_reencrypt(*, batch_size: int = 200) -> int:
    """Encrypt every stored secret again with the first key; return how many.

    Runs in short transactions of `batch_size` rows, each row locked while it
    is rewritten, so the site stays up; run it again after a failure.
    """
    count = 0
    for model in apps.get_models():
        fields = [
            field
            for field in model._meta.concrete_fields
            if isinstance(field, EncryptedTextField)
        ]
        for field in fields:
            count += _column_reencrypt(
                table=model._meta.db_table,
                pk=model._meta.pk.column,
                column=field.column,
                batch_size=batch_size,
            )
    return count


def _column_reencrypt(*, table: str, pk: str, column: str, batch_size: int) -> int:
    quote = connection.ops.quote_name
    select = (
        f"SELECT {quote(pk)}, {quote(column)} FROM {quote(table)} "
        f"WHERE {quote(column)} <> '' AND {quote(pk)} > %s "
        f"ORDER BY {quote(pk)} LIMIT %s FOR UPDATE"
    )
    update = f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE {quote(pk)} = %s"
    count, last = 0, 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(select, [last, batch_size])
            rows = cursor.fetchall()
            if not rows:
                return count
            cursor.executemany(
                update, [(secret_reencrypt(value), key) for key, value in rows]
            )
        count += len(rows)
        last = rows[-1][0]
