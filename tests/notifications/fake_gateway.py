"""A real HTTP server on 127.0.0.1 that plays an SMS gateway or WeChat's API in tests.

It records every request it receives (method, path, query, headers, body) and answers
each with the next of the responses it was given (the last one repeats). No network
beyond the loopback interface: the senders under test make real HTTP requests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class FakeGateway:
    """The server's address, what it received, and what it will answer."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    #: (status, JSON body) answers, by path: the first matching path prefix's list is used.
    script: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)

    def answer(self, path: str, *responses: tuple[int, Any]) -> None:
        self.script[path] = list(responses)

    def _next(self, path: str) -> tuple[int, Any]:
        for prefix, responses in self.script.items():
            if path.startswith(prefix):
                return responses.pop(0) if len(responses) > 1 else responses[0]
        return 404, {"error": "no such path"}


def _handler(gateway: FakeGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            gateway.received.append(Received(self.command, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()}, body))
            status, payload = gateway._next(parts.path)
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_gateway() -> Iterator[FakeGateway]:
    """A fake HTTP gateway on a free loopback port, for the length of one test."""
    gateway = FakeGateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(gateway))
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
