"""Fixtures of the integration tests: the CTI secret, a receiving HTTP server in a thread."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import log_in

#: The shared secret of the committed CTI test vectors (tests/integrations/data/).
CTI_SECRET = "rightscare-cti-test-secret"


@pytest.fixture
def cti_secret(settings) -> str:
    settings.CTI_SECRET = CTI_SECRET
    settings.CTI_TOLERANCE_SECONDS = 300
    return CTI_SECRET


@pytest.fixture
def as_user(client):
    """Log the test client in as a user."""

    def _as(user):
        client.logout()
        log_in(client, user)
        return client

    return _as


@dataclass
class Received:
    """One request the receiver got, and whether its signature checked out under the receiver's secret."""

    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server standing in for another system: it verifies signatures the way our docs tell receivers to.

    ``answers`` is the queue of HTTP statuses to answer with (then 200 for ever).
    """

    secret: str
    url: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    # Written from docs/operations/integrations.md, independently of rightscare.integrations.signing.
    timestamp = headers.get("X-RightsCare-Timestamp", "")
    sent = headers.get("X-RightsCare-Signature", "").removeprefix("sha256=")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return bool(timestamp) and hmac.compare_digest(sent, expected)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(secret="receiver-secret-0123456789abcdef")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = dict(self.headers.items())
            state.received.append(Received(self.path, headers, body, _verify(state.secret, headers, body)))
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
