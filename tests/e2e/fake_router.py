"""A scriptable fake external routing service (the other side of adapters/routing/external.py).

A raw ASGI app served by uvicorn in a background thread (`devtools.fake_upstream.serving_in_thread`).
Every request is recorded (path, lower-cased headers, parsed JSON body); the answer is whatever
`answer(status, body, delay_s)` last configured: `body` is sent as JSON unless it is `bytes`.
A delayed answer gives up as soon as its client disconnects, so a timed-out caller leaves
no request behind to slow the server's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from devtools.fake_upstream import serving_in_thread


@dataclass(frozen=True, slots=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def bearer(self) -> str:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        assert scheme == "Bearer", self.headers.get("authorization")
        return token


@dataclass
class FakeRouter:
    url: str = ""
    status: int = 200
    body: Any = field(default_factory=dict)
    delay_s: float = 0.0
    _requests: list[Recorded] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: Any = None, *, status: int = 200, delay_s: float = 0.0) -> None:
        with self._lock:
            self.status, self.body, self.delay_s = status, {} if body is None else body, delay_s

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self.status, self.body, self.delay_s = 200, {}, 0.0

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        try:
            parsed: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = raw.decode(errors="replace")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        with self._lock:
            self._requests.append(Recorded(scope["path"], headers, parsed))
            status, body, delay_s = self.status, self.body, self.delay_s
        if delay_s > 0:
            try:
                message = await asyncio.wait_for(receive(), delay_s)
            except TimeoutError:
                pass
            else:
                if message["type"] == "http.disconnect":
                    return
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})


@contextlib.contextmanager
def running_fake_router(host: str = "127.0.0.1") -> Iterator[FakeRouter]:
    """A fake routing service on a free port; its `url` is the routing endpoint (`/route`)."""
    router = FakeRouter()
    with serving_in_thread(router, host, timeout_graceful_shutdown=2) as base:
        router.url = f"{base}/route"
        yield router


def closed_port_url(host: str = "127.0.0.1") -> str:
    """A URL nothing listens on (the port was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    return f"http://{host}:{port}/route"
