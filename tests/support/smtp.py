"""A real SMTP server on localhost (aiosmtpd) for e-mail tests and benchmarks.

It accepts every message and remembers, per message, the SMTP session
(connection) it came through and its `X-OMS-Email` header, so a test can
tell how many connections a batch used and whether any e-mail came twice.
"""

import multiprocessing
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    session: int
    key: str
    to: list[str]
    content: bytes = b""


@dataclass
class SinkHandler:
    """Keep what arrives. Every SMTP client greets once per connection (EHLO),
    so each greeting numbers a new connection."""

    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        with self.lock:
            self.connections += 1
            session.oms_connection = self.connections
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        key = message_from_bytes(envelope.content).get("X-OMS-Email", "")
        connection = getattr(session, "oms_connection", 0)
        with self.lock:
            self.messages.append(
                Received(
                    connection, key, list(envelope.rcpt_tos), bytes(envelope.content)
                )
            )
        return "250 Message accepted for delivery"

    @property
    def keys(self) -> Counter:
        return Counter(message.key for message in self.messages)

    @property
    def sessions(self) -> int:
        return len({message.session for message in self.messages})


class SmtpSink:
    """An aiosmtpd server in a thread of this process: `with SmtpSink() as sink`."""

    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpSink":
        self.controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.controller.stop()


class _CountingHandler:
    def __init__(self, count, sessions) -> None:
        self.count, self.sessions = count, sessions

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        with self.sessions.get_lock():
            self.sessions.value += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        with self.count.get_lock():
            self.count.value += 1
        return "250 Message accepted for delivery"


def _serve(port, count, sessions, ready, stop) -> None:
    controller = Controller(
        _CountingHandler(count, sessions), hostname="127.0.0.1", port=port
    )
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class SmtpSinkProcess:
    """An aiosmtpd server in its own process (benchmarks: it must not share
    the sender's CPU time slice); counts messages and connections."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self.count = context.Value("i", 0)
        self.sessions = context.Value("i", 0)
        self.ready, self.stop = context.Event(), context.Event()
        self.process = context.Process(
            target=_serve,
            args=(self.port, self.count, self.sessions, self.ready, self.stop),
            daemon=True,
        )

    def __enter__(self) -> "SmtpSinkProcess":
        self.process.start()
        if not self.ready.wait(20):
            raise RuntimeError("The aiosmtpd server did not start.")
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.process.join(10)
