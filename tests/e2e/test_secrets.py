"""No configured secret leaves the gateway: not in a response, a stream error event or a log line.

The upstream here is hostile in the way many OpenAI-compatible servers and proxies are: every
error it sends quotes the request's credentials back (the whole `Authorization` value and the
bare key). The gateway runs as a real `adaptive-proxy serve` subprocess at log level debug; every
route family is driven through 401, 500, mid-stream error and count_tokens paths, then every
response body and every captured log line is searched for the configured secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from tests.e2e.conftest import free_port
from tests.e2e.gateway_process import gateway_process

PROVIDER_KEY = "Zq8Y3kP0wLx7RmT2vB9n"  # looks like no known key format: only exact redaction catches it
ADMIN_TOKEN = "adm1n-T0ken-Qw7Er5Ty"
SECRETS = (PROVIDER_KEY, ADMIN_TOKEN)


def _credentials(headers: dict[str, str]) -> str:
    value = headers.get("authorization") or headers.get("x-api-key") or headers.get("x-goog-api-key") or ""
    return f"Incorrect API key provided: authorization={value} (key {value.rpartition(' ')[2]})"


async def _echoing_upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers every call with an error that quotes the caller's credentials back."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    echo = _credentials(headers)
    request = orjson.loads(body or b"{}")
    model = str(request.get("model") or scope["path"])
    if "stream" in model or "streamGenerateContent" in scope["path"]:
        if "anthropic" in scope["path"] or scope["path"].endswith("/messages"):
            first = {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant",
                                                          "model": "x", "content": [], "usage": {"input_tokens": 1}}}
            events = [b"event: message_start\ndata: " + orjson.dumps(first),
                      b"event: error\ndata: " + orjson.dumps({"type": "error", "error": {"message": echo}})]
        else:
            events = [b"data: " + orjson.dumps({"error": {"message": echo, "code": 500}})]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b"\n\n".join(events) + b"\n\n"})
        return
    status = 401 if "401" in model or "401" in scope["path"] else 500
    payload = {"error": {"message": echo, "type": "invalid_request_error", "code": status}}
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": orjson.dumps(payload)})


@contextlib.contextmanager
def _upstream() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_echoing_upstream, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _config(upstream: str) -> dict[str, Any]:
    model = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}
    models = {name: model for name in ("m401", "m500", "mstream")}
    return {
        "server": {"log_level": "debug"},
        "auth": {"admin_token": ADMIN_TOKEN},
        "fallback": {"max_retries": 0},
        "providers": {
            "oai": {"kind": "openai", "base_url": f"{upstream}/v1", "api_key": PROVIDER_KEY, "models": models},
            "ant": {"kind": "anthropic", "base_url": f"{upstream}/anthropic", "api_key": PROVIDER_KEY,
                    "models": models},
            "gem": {"kind": "gemini", "base_url": upstream, "api_key": PROVIDER_KEY, "models": models},
        },
    }


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("secrets")
    with _upstream() as upstream, gateway_process(_config(upstream), workdir) as gateway:
        yield gateway.url, gateway.log_path


def _calls() -> list[tuple[str, dict[str, Any]]]:
    user = [{"role": "user", "content": "hello"}]
    calls: list[tuple[str, dict[str, Any]]] = []
    for provider in ("oai", "ant", "gem"):
        for model in ("m401", "m500"):
            calls.append(("/v1/chat/completions", {"model": f"{provider}:{model}", "messages": user}))
            calls.append(("/v1/messages", {"model": f"{provider}:{model}", "max_tokens": 5, "messages": user}))
            calls.append((f"/v1beta/models/{provider}:{model}:generateContent",
                          {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}))
            if provider != "oai":  # OpenAI has no counting endpoint: the gateway estimates locally
                calls.append(("/v1/messages/count_tokens", {"model": f"{provider}:{model}", "messages": user}))
                calls.append((f"/v1beta/models/{provider}:{model}:countTokens",
                              {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}))
        calls.append(("/v1/chat/completions", {"model": f"{provider}:mstream", "messages": user, "stream": True}))
        calls.append(("/v1/messages", {"model": f"{provider}:mstream", "max_tokens": 5, "messages": user,
                                       "stream": True}))
        calls.append((f"/v1beta/models/{provider}:mstream:streamGenerateContent?alt=sse",
                      {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}))
    return calls


def test_no_configured_secret_in_any_response_or_log_line(gateway: tuple[str, Path]) -> None:
    url, log_path = gateway
    answered: list[tuple[str, int, str]] = []
    with httpx.Client(base_url=url, timeout=20) as client:
        for path, body in _calls():
            response = client.post(path, json=body)
            answered.append((path, response.status_code, response.text))
    errors = [a for a in answered if a[1] >= 400 or "error" in a[2]]
    assert len(errors) == len(answered), "every call goes through an upstream error path"
    assert any("401" in text for _, _, text in answered), "the upstream status is kept"
    leaks = [(path, status) for path, status, text in answered if any(s in text for s in SECRETS)]
    assert leaks == []
    assert any("[redacted]" in text for _, _, text in answered), "the safe summary is still relayed"
    lines = log_path.read_text(errors="replace").splitlines()
    assert len(lines) > len(answered), "debug logging captured the traffic"
    assert [line for line in lines if any(s in line for s in SECRETS)] == []
