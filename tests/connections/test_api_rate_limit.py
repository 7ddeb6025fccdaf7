"""The API's rate limit holds across processes: gunicorn with 2 workers and a
limit of 60 requests a minute lets exactly 60 through, counted in the shared
cache (PostgreSQL's by default, Redis with REDIS_URL); the rest are refused
with 429 and a JSON body. A key revoked is refused by every process on the
next request."""

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from connections.api.auth import api_key_rate_key
from connections.services.api_keys import channel_api_key_create, channel_api_key_revoke
from tests.bench.httpload import gunicorn_serve, production_env
from tests.core.test_cache import REDIS_TEST_URL
from tests.support.database import database_url
from tests.test_settings import ROOT

LIMIT = 60
SENT = 90


def get(port: int, key: str, path: str = "/api/v1/orders/NO-SUCH") -> tuple:
    """One request on its own connection (the kernel hands connections to
    either worker): its status and body."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"Authorization": f"Bearer {key}", "Connection": "close"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def ready(port: int, seconds: float = 90) -> None:
    """Wait until gunicorn's workers answer (its port opens before they have
    loaded the project): a request without a key, which is not counted."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/orders/X")
            urllib.request.urlopen(request, timeout=5)
            return
        except urllib.error.HTTPError:
            return  # answered (401: no key)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def serve(transactional_db):
    """gunicorn with 2 workers on the test database, as in production."""
    servers = []

    def start(**env: str) -> int:
        changes = {
            "DJANGO_SETTINGS_MODULE": "oms.settings",
            "DATABASE_URL": database_url(),
            "OMS_API_KEY_RATE": f"{LIMIT}/minute",
            "REDIS_URL": "",
            **env,
        }
        server, port = gunicorn_serve(
            root=ROOT, env=production_env(**changes), threads=4, workers=2
        )
        servers.append(server)
        ready(port)
        return port

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=30)


def burst(port: int, key: str) -> list[tuple[int, bytes]]:
    with ThreadPoolExecutor(12) as pool:
        return list(pool.map(lambda _: get(port, key), range(SENT)))


def assert_exactly_the_limit_passed(answers: list[tuple[int, bytes]]) -> None:
    statuses = [status for status, _ in answers]
    assert statuses.count(404) == LIMIT, statuses  # through: no such order
    assert statuses.count(429) == SENT - LIMIT, statuses
    refused = [json.loads(body) for status, body in answers if status == 429]
    assert all("throttled" in answer["detail"] for answer in refused)


def test_two_workers_let_exactly_the_limit_through_on_the_database_cache(
    serve, channel
):
    key = channel_api_key_create(channel=channel, name="shop")[1]
    port = serve()

    assert_exactly_the_limit_passed(burst(port, key))


def test_two_workers_let_exactly_the_limit_through_on_redis(serve, channel):
    row, key = channel_api_key_create(channel=channel, name="shop")
    client = redis.Redis.from_url(REDIS_TEST_URL)
    counted = f":1:{api_key_rate_key(row.pk)}"  # Django's prefix and version
    client.delete(counted)  # a key of an earlier run with this id
    port = serve(REDIS_URL=REDIS_TEST_URL)

    try:
        assert_exactly_the_limit_passed(burst(port, key))
        assert int(client.get(counted)) == SENT
    finally:
        client.delete(counted)


def test_a_revoked_key_is_refused_by_every_worker_at_once(serve, channel):
    row, key = channel_api_key_create(channel=channel, name="shop")
    port = serve(OMS_API_KEY_RATE="1000/minute")
    assert {get(port, key)[0] for _ in range(6)} == {404}  # both workers know it

    channel_api_key_revoke(api_key=row)

    assert {get(port, key)[0] for _ in range(6)} == {401}
