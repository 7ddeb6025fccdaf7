"""The HTTP side of the intake benchmark: a lean kept-alive client, a load of
concurrent requests with their latencies, and the CPU a server process and its
children spent (read from /proc), steadier than a rate on a busy machine."""

import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_local = threading.local()


class Client:
    """One kept-alive HTTP/1.1 connection on a raw socket.

    The load runs on the same cores as the server it measures, so the client
    does no more than a client must: it sends each request whole (request
    line, headers, body) and reads each answer whole (status line, headers,
    the body by its Content-Length or chunks), without `http.client`'s
    e-mail header parser, which cost more CPU per request than the server's
    acknowledgement itself.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        taken, self.buffer = self.buffer[:size], self.buffer[size:]
        return taken

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def post(self, path: str, body: bytes, headers: dict) -> tuple[int, bool, bytes]:
        """Send a POST; return the status, whether the server closes the
        connection after it, and the body."""
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{head}\r\n".encode()
            + body
        )
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        raw, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = raw.split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        fields = {}
        for line in lines:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        closes = fields.get(b"connection") == b"close"
        if b"content-length" in fields:
            content = self._take(int(fields[b"content-length"]))
        elif fields.get(b"transfer-encoding") == b"chunked":
            parts = []
            while size := int(self._line().split(b";")[0], 16):
                parts.append(self._take(size))
                self._take(2)
            while self._line():  # trailers, then the empty line
                pass
            content = b"".join(parts)
        else:  # the body runs to the end of the connection
            try:
                while True:
                    self._fill()
            except ConnectionError:
                content, self.buffer, closes = self.buffer, b"", True
        return status, closes, content


def post(port: int, path: str, body: bytes, headers: dict) -> tuple[int, float]:
    """POST on this client thread's kept-alive connection (a new one if the
    server closed it)."""
    started = time.perf_counter()
    for attempt in range(2):
        client = getattr(_local, "client", None)
        if client is None:
            client = _local.client = Client(port)
        try:
            status, closes, _ = client.post(path, body, headers)
        except (ConnectionError, OSError, ValueError, IndexError):
            client.close()
            _local.client = None
            if attempt:
                raise
            started = time.perf_counter()
            continue
        if closes:
            client.close()
            _local.client = None
        return status, time.perf_counter() - started
    raise AssertionError("unreachable")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def load(requests: list, clients: int, port: int) -> dict:
    started = time.perf_counter()
    cpu = time.process_time()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda r: post(port, *r), requests))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    latencies = [latency for _, latency in results]
    codes: dict[int, int] = {}
    for code, _ in results:
        codes[code] = codes.get(code, 0) + 1
    return {
        "requests": len(requests),
        "seconds": round(elapsed, 2),
        "per_second": round(len(requests) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        # The client shares the machine's cores with the server it measures.
        "client_cpu_ms_per_request": round(cpu / len(requests) * 1000, 3),
        "status_codes": codes,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc; 0 when gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def server_cpu(server_pid: int) -> dict[str, dict[int, float]]:
    """CPU used so far by the gunicorn workers and by the PostgreSQL backends
    serving this database (same machine): measured around a load, it is the
    server's CPU per request, which the machine's other work does not blur as
    it blurs requests per second."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        backends = [pid for (pid,) in cursor.fetchall()]
    return {
        "gunicorn": {pid: cpu_seconds(pid) for pid in children(server_pid)},
        "postgres": {pid: cpu_seconds(pid) for pid in backends},
    }


def cpu_per_request(before: dict, after: dict, requests: int) -> dict[str, float]:
    """CPU milliseconds per request of each server side between two
    `server_cpu` readings (a backend started meanwhile counts from 0)."""
    return {
        f"{side}_cpu_ms_per_request": round(
            sum(used - before[side].get(pid, 0.0) for pid, used in after[side].items())
            / requests
            * 1000,
            3,
        )
        for side in after
    }


def production_env(**changes: str) -> dict[str, str]:
    """The environment of a production-like server process: DEBUG off, the
    queue on the database, no API rate limit in the way, quiet logs; the
    secrets' keys of the process that starts it, so both read one database."""
    from django.conf import settings

    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-not-secret",
        "OMS_FIELD_ENCRYPTION_KEYS": ",".join(settings.OMS_FIELD_ENCRYPTION_KEYS),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "OMS_TASKS_BACKEND": "database",
        "OMS_API_KEY_RATE": "10000000/minute",
        "LOG_LEVEL": "WARNING",
        **changes,
    }


def gunicorn_serve(*, root: Path, env: dict[str, str], threads: int, workers: int = 2):
    """gunicorn serving the OMS on a free port (as gunicorn.conf.py would, with
    these workers and threads), started and answering: (process, port)."""
    import subprocess
    import sys

    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "oms.wsgi",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=root,
        env=env,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, port
