"""A replay server of EasyPost's recorded answers, for the official client.

The answers are the published ones under `tests/fixtures/real/easypost/`
(EasyPost's own cassettes, see the README there). Each is served for the
method and path it was recorded at — or, where a test says so, at another
path (`serve(..., at=)`): EasyPost's one-call buy answer is the bought
Shipment that a buy answers with. A request nothing was recorded for gets a
404 in EasyPost's error shape and is kept in `unmatched`, so a test can
prove the OMS asked exactly what was recorded.

File addresses in the answers (labels, scan forms on EasyPost's S3 host)
are rewritten to this server, path kept, and served from `files`: by
default a PNG label image drawn here (EasyPost does not publish label
files) or a blank 4 × 6 in PDF.
"""

import io
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from pypdf import PdfWriter

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "real" / "easypost"
FILE_HOST = "https://easypost-files.s3.us-west-2.amazonaws.com"


@dataclass(frozen=True)
class Recorded:
    """One recorded answer: what was asked (method, path) and what came."""

    method: str
    path: str
    status: int
    body: Any


def recorded(name: str) -> list[Recorded]:
    """Return the answers of one fixture file, in the order recorded."""
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    return [
        Recorded(i["method"], i["path"], i["status"], i["body"])
        for i in data["interactions"]
    ]


def event_body(name: str) -> bytes:
    """Return a recorded webhook body byte for byte (it is signed as sent)."""
    return (FIXTURES / f"{name}.json").read_bytes()


def png_label(width: int = 1200, height: int = 1800) -> bytes:
    """Draw a label-sized 1-bit PNG (4 × 6 in at 300 dpi) with a few bars."""
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, width - 30, height - 30), outline=0, width=6)
    for index in range(40):
        x = 100 + index * 24
        draw.rectangle((x, 1300, x + (8 if index % 3 else 14), 1600), fill=0)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=288, height=432)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class EasyPostReplay:
    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], list[Recorded]] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.calls: list[tuple[str, str, dict]] = []
        self.unmatched: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_base(self) -> str:
        return self.base + "/v2"

    def start(self) -> "EasyPostReplay":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def serve(self, answer: Recorded, *, at: tuple[str, str] | None = None) -> None:
        """Answer `at` (method, path; by default where it was recorded) with a
        recorded answer; several for one address are served in turn, the
        last one again and again."""
        key = at or (answer.method, answer.path)
        self.answers.setdefault(key, []).append(answer)

    def served(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.calls if (m, p) == (method, path))

    def bodies(self, method: str, path: str) -> list[dict]:
        return [body for m, p, body in self.calls if (m, p) == (method, path)]

    def _answer(self, method: str, path: str) -> tuple[int, bytes, str]:
        if path.startswith("/files/"):
            file = self.files.get(path)
            if file is None:
                file = (
                    (png_label(), "image/png")
                    if path.endswith(".png")
                    else (blank_pdf(), "application/pdf")
                )
            return 200, file[0], file[1]
        with self.lock:
            queue = self.answers.get((method, path))
            answer = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else None
            if answer is None:
                self.unmatched.append((method, path))
        if answer is None:
            body = {
                "error": {
                    "code": "NOT_FOUND",
                    "message": f"Nothing was recorded for {method} {path}.",
                    "errors": [],
                }
            }
            return 404, json.dumps(body).encode(), "application/json"
        text = json.dumps(answer.body).replace(FILE_HOST, self.base)
        return answer.status, text.encode(), "application/json; charset=utf-8"

    def _handler(self):
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _route(self, method: str) -> None:
                path = self.path.split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw.strip() else {}
                with replay.lock:
                    replay.calls.append((method, path, body))
                if not path.startswith("/files/") and not (
                    self.headers.get("Authorization") or ""
                ).startswith("Bearer EZ"):
                    status, data, kind = (
                        401,
                        b'{"error": {"code": "APIKEY.REQUIRED", "message": '
                        b'"Invalid API key.", "errors": []}}',
                        "application/json",
                    )
                else:
                    status, data, kind = replay._answer(method, path)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

        return Handler
