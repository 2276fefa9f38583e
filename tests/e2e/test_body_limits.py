"""Request bodies over a real socket: a body past `server.max_body_bytes` stops being read at the
limit (chunked or with a Content-Length) and is refused with 413 in the caller's shape; a client
that leaves halfway through its body costs one log line, not a traceback."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import orjson
import pytest

from tests.e2e.gateway_process import Gateway, gateway_process

LIMIT = 1024 * 1024
UPLOAD = 96 * 1024 * 1024
CHUNK = b"a" * 65536


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    config = {"server": {"log_level": "warning", "max_body_bytes": LIMIT},
              "providers": {"up": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k",
                                   "models": {"m": {}}}}}
    with gateway_process(config, tmp_path_factory.mktemp("limits")) as started:
        yield started


def _upload(gateway: Gateway, path: str, chunked: bool) -> tuple[int, int, bytes]:
    """Send a 96 MiB body until the gateway answers or stops reading: (bytes sent, peak RSS growth
    in KiB, the answer)."""
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % UPLOAD
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.settimeout(3)
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n%s\r\n\r\n" % (
            path.encode(), framing))
        before = peak = gateway.rss_kib()
        sent = 0
        while sent < UPLOAD and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
            except OSError:  # the gateway stopped reading (timeout) or closed the connection
                break
            sent += len(CHUNK)
            peak = max(peak, gateway.rss_kib())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return sent, peak - before, answer


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
@pytest.mark.parametrize(("path", "family"), [("/v1/chat/completions", "openai"), ("/v1/messages", "anthropic"),
                                              ("/v1beta/models/up:m:generateContent", "gemini")])
def test_a_body_past_the_limit_stops_being_read_at_the_limit(gateway: Gateway, chunked: bool, path: str,
                                                             family: str) -> None:
    sent, growth_kib, answer = _upload(gateway, path, chunked)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:200]
    error = orjson.loads(body)
    if family == "anthropic":
        assert error["type"] == "error" and error["error"]["type"] == "request_too_large"
    elif family == "gemini":
        assert error["error"]["code"] == 413 and error["error"]["status"] == "INVALID_ARGUMENT"
    else:
        assert error["error"]["type"] == "invalid_request_error"
    # The socket buffers hold a few MiB the gateway never reads: far from the 96 MiB offered.
    assert sent < 16 * 1024 * 1024, f"{sent / 2**20:.1f} MiB accepted"
    assert growth_kib < 16 * 1024, f"RSS grew {growth_kib / 1024:.1f} MiB"


def test_a_client_leaving_halfway_through_its_body_is_one_log_line(gateway: Gateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 5000\r\n\r\n{\"model\": \"up:m\", ")
    marker = "client disconnected before sending the whole body"
    import time

    deadline = time.monotonic() + 10
    while marker not in gateway.log() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling another process's log: nothing to inject a clock into
    log = gateway.log()
    assert log.count(marker) == 1, log[-2000:]
    assert "Traceback" not in log and "MessageAborted" not in log, log[-2000:]


@pytest.mark.parametrize(("size", "status"), [(8_000, b"200"), (20_000_000, b"431")])
def test_the_request_head_is_bounded(gateway: Gateway, size: int, status: bytes) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.settimeout(5)
        before = gateway.rss_kib()
        try:
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
        except OSError:
            pass  # closed by the gateway mid-upload: the answer is already in the socket
        answer = sock.recv(65536)
        growth_kib = gateway.rss_kib() - before
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    if status == b"431":
        assert orjson.loads(answer.partition(b"\r\n\r\n")[2])["error"]["type"] == "invalid_request_error"
    assert growth_kib < 8 * 1024
