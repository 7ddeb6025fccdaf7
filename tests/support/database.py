"""The database the tests run on, as a URL for the processes a test starts."""

from urllib.parse import quote

from django.db import connection


def database_url() -> str:
    """Return DATABASE_URL for the test database (a host or a socket folder)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = quote(
        db["HOST"] or db.get("OPTIONS", {}).get("host") or "127.0.0.1", safe=""
    )
    return f"postgres://{db['USER']}{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
