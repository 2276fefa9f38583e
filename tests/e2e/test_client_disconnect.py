"""A client that hangs up mid-stream, over real sockets: the gateway cancels the upstream call at
once (the upstream sees its connection closed long before it would have finished) and records
the request as `cancelled` with the tokens seen so far."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.e2e.gateway_process import gateway_process

STALL_S = 30.0  # how long the upstream would keep the stream open if nobody cancelled it


def _event(kind: str, data: dict[str, object]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


class StallingUpstream:
    """An Anthropic-kind upstream: message_start (11 input tokens), one text delta, then it holds
    the stream open; notes when the gateway closes the connection."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(
            b"content-length"))
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        for frame in (_event("message_start", {"message": {
                "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": [],
                "stop_reason": None, "usage": {"input_tokens": 11, "output_tokens": 1}}}),
                _event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
                _event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "hel"}})):
            writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
        await writer.drain()
        try:
            await asyncio.wait_for(reader.read(), STALL_S)  # EOF: the gateway hung up on us
            self.closed.set()
        except TimeoutError:
            pass
        writer.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def upstream() -> Iterator[StallingUpstream]:
    started = StallingUpstream()
    yield started
    started.stop()


def _rows(db: Path) -> list[tuple[str, int, int]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return list(conn.execute("SELECT status, status_code, input_tokens FROM api_key_usage"))
        except sqlite3.OperationalError:
            return []


def test_a_client_hanging_up_mid_stream_cancels_the_upstream_call(upstream: StallingUpstream,
                                                                   tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    config = {"server": {"log_level": "warning"},
              "providers": {"up": {"kind": "anthropic", "base_url": f"http://127.0.0.1:{upstream.port}",
                                   "api_key": "k", "models": {"claude-x": {"input_per_mtok": 1.0}}}},
              "database": {"url": f"sqlite:///{db}"}, "usage": {"enabled": True, "flush_interval_ms": 5}}
    with gateway_process(config, tmp_path) as gateway:
        body = orjson.dumps({"model": "up:claude-x", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
        with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
            sock.settimeout(10)
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            seen = b""
            while b"hel" not in seen:
                seen += sock.recv(65536)
        hung_up = time.monotonic()
        assert upstream.closed.wait(10), "the upstream stream was never cancelled"
        assert time.monotonic() - hung_up < 5  # at once, not at the upstream's end (30 s)
        deadline = time.monotonic() + 10
        while not _rows(db) and time.monotonic() < deadline:
            time.sleep(0.05)  # the usage writer runs in the gateway process
        assert _rows(db) == [("cancelled", 499, 11)]
        assert "Traceback" not in gateway.log(), gateway.log()[-3000:]
