"""SIGTERM with requests still running past `server.shutdown_timeout_s`: the callers cut by the
deadline get a 503 in their family's error shape (not uvicorn's plain-text 500) and streams end
with the family's error event; the process still exits 0."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.e2e.gateway_process import gateway_process
from tests.e2e.test_client_disconnect import StallingUpstream


@pytest.fixture
def upstream() -> Iterator[StallingUpstream]:
    started = StallingUpstream()
    yield started
    started.stop()


def _send(port: int, path: str, body: dict[str, object]) -> socket.socket:
    raw = orjson.dumps(body)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(20)
    sock.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 % (path.encode(), len(raw), raw))
    return sock


def _read_all(sock: socket.socket, until: bytes = b"") -> bytes:
    seen = b""
    while until not in seen or not until:
        data = sock.recv(65536)
        if not data:
            break
        seen += data
    return seen


def test_requests_cut_by_the_shutdown_deadline_get_the_family_error(upstream: StallingUpstream,
                                                                     tmp_path: Path) -> None:
    config = {"server": {"log_level": "warning", "shutdown_timeout_s": 1},
              "providers": {"up": {"kind": "anthropic", "base_url": f"http://127.0.0.1:{upstream.port}",
                                   "api_key": "k", "timeout_ms": 60_000, "models": {"claude-x": {}}}},
              "fallback": {"timeout_ms": 60_000}}
    messages = [{"role": "user", "content": "hi"}]
    with gateway_process(config, tmp_path) as gateway:
        plain = _send(gateway.port, "/v1/chat/completions", {"model": "up:claude-x", "messages": messages})
        anthropic = _send(gateway.port, "/v1/messages", {"model": "up:claude-x", "max_tokens": 5,
                                                          "messages": messages})
        stream = _send(gateway.port, "/v1/chat/completions", {"model": "up:claude-x", "stream": True,
                                                              "messages": messages})
        first = _read_all(stream, b"hel")  # the stream is under way
        gateway.process.send_signal(signal.SIGTERM)
        answers = [_read_all(s) for s in (plain, anthropic)]
        streamed = first + _read_all(stream)
        for s in (plain, anthropic, stream):
            s.close()
        assert gateway.process.wait(timeout=20) == 0
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 503"), answer[:300]
    openai_error = orjson.loads(answers[0].partition(b"\r\n\r\n")[2])
    assert "shutting down" in openai_error["error"]["message"]
    anthropic_error = orjson.loads(answers[1].partition(b"\r\n\r\n")[2])
    assert anthropic_error["type"] == "error" and anthropic_error["error"]["type"] == "overloaded_error"
    assert b'data: {"error":' in streamed and b"shutting down" in streamed, streamed[-500:]
