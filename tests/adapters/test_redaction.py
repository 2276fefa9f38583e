"""Secrets never survive into upstream error messages or log records (adapters/redaction.py)."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from adapters.providers.anthropic import AnthropicProvider
from adapters.providers.errors import from_status
from adapters.providers.factory import shared_http_client
from adapters.providers.gemini import GeminiProvider
from adapters.providers.openai import OpenAIProvider
from adapters.redaction import REDACTED, RedactingFilter, configured_secrets, header_secrets, redact, register_secrets
from application.settings import Settings
from domain.chat import ChatRequest, Message
from domain.errors import UpstreamError, UpstreamRejected
from tests.adapters.raw_http import RawServer, Request, response

KEY = "Zq8Y3kP0wLx7RmT2vB9n"


@pytest.mark.parametrize("text", [
    "Incorrect API key provided: authorization=Bearer sk-proj-abcDEF1234567890xyz",
    "bad key sk-ant-api03-AAAAbbbbCCCC1111 for this org",
    "API key not valid. key=AIzaSyA1234567890abcdefghijklmnop",
    'upstream said {"x-api-key": "whatever-9876543210"}',
    "invalid token gsk_0123456789abcdefABCDEF",
    "proxy rejected Basic dXNlcjpwYXNzd29yZDEyMw==",
])
def test_credential_shapes_are_redacted(text: str) -> None:
    clean = redact(text)
    assert REDACTED in clean
    assert not any(secret in clean for secret in ("sk-proj-abc", "sk-ant-api03", "AIzaSy", "9876543210",
                                                   "gsk_0123", "dXNlcjpw"))


@pytest.mark.parametrize("text", [
    "model gpt-4o-mini does not exist", "max_tokens: 100000 is too large", "Missing required key: messages",
    "rate limit exceeded, retry in 20s", "The model `claude-sonnet-4-5` is overloaded",
])
def test_ordinary_error_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_exact_secrets_are_redacted_whatever_they_look_like() -> None:
    assert redact(f"your key {KEY} is wrong", [KEY]) == f"your key {REDACTED} is wrong"
    assert redact("short k stays", ["k"]) == "short k stays"  # too short to redact safely


def test_status_and_summary_survive() -> None:
    error = from_status(401, f"Incorrect API key provided: {KEY}", "oai", secrets=[KEY])
    assert isinstance(error, UpstreamRejected) and error.status == 401
    assert error.message == f"oai returned 401: Incorrect API key provided: {REDACTED}"
    assert KEY not in str(error)


def test_header_secrets_take_the_value_and_the_bare_token() -> None:
    found = header_secrets({"Authorization": f"Bearer {KEY}", "User-Agent": "sdk/1.0", "x-api-key": "other-123456"})
    assert set(found) == {f"Bearer {KEY}", KEY, "other-123456"}


def test_configured_secrets_cover_every_secret_setting() -> None:
    settings = Settings.model_validate({
        "providers": {"p": {"kind": "openai", "api_key": "prov-key-1", "headers": {"Authorization": "Bearer h-2"}}},
        "auth": {"admin_token": "admin-3"}, "stripe": {"secret_key": "sk_test_4", "webhook_secret": "whsec_5"},
        "model_router": {"external": {"url": "http://r", "jwt_secret": "jwt-6"}},
    })
    assert set(configured_secrets(settings)) == {"prov-key-1", "Bearer h-2", "admin-3", "sk_test_4", "whsec_5",
                                                 "jwt-6"}


def test_the_log_filter_redacts_arguments_and_tracebacks() -> None:
    register_secrets(["registered-secret-77"])
    try:
        raise ValueError("boom with registered-secret-77")
    except ValueError as exc:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "calling %s with %s", ("up", "Bearer abcdef123456"),
                                   (type(exc), exc, exc.__traceback__))
    assert RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "registered-secret-77" not in formatted and "abcdef123456" not in formatted
    assert "calling up with Bearer [redacted]" in formatted and "ValueError" in formatted


async def _echo(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
    """Quotes the caller's credentials back, as an error (status from the path) or a stream event."""
    value = request.headers.get("authorization") or request.headers.get("x-api-key") or \
        request.headers.get("x-goog-api-key") or ""
    echo = f"Incorrect API key provided: {value.rpartition(' ')[2]}"
    if "stream" in request.target or b'"stream":true' in request.body:
        event = {"type": "error", "error": {"message": echo}}
        start = {"type": "message_start", "message": {"id": "m", "role": "assistant", "content": [], "usage": {}}}
        body = b"data: " + orjson.dumps(start) + b"\n\ndata: " + orjson.dumps(event) + b"\n\n"
        writer.write(response(body=body, headers={"Content-Type": "text/event-stream"}))
    else:
        status = 401 if "count" not in request.target.lower() else 500
        writer.write(response(status, orjson.dumps({"error": {"message": echo}}),
                              {"Content-Type": "application/json"}))
    return True


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
async def test_every_provider_kind_redacts_its_own_key(kind: str) -> None:
    http = shared_http_client()
    request = ChatRequest(model="m", messages=[Message(role="user", content="hi")])
    classes = {"openai": OpenAIProvider, "anthropic": AnthropicProvider, "gemini": GeminiProvider}
    async with RawServer(_echo) as server:
        base = server.url("/v1") if kind == "openai" else server.url("")
        provider = classes[kind]("p", base_url=base, api_key=KEY, timeout_s=5, http_client=http)
        messages = []
        with pytest.raises(UpstreamError) as caught:
            await provider.complete(request, "m")
        messages.append(caught.value.message)
        with pytest.raises(UpstreamError) as caught:
            async for _ in provider.stream(request, "m"):
                pass
        messages.append(caught.value.message)
        if kind != "openai":  # OpenAI counts locally
            with pytest.raises(UpstreamError) as caught:
                await provider.count_tokens(request, "m")
            messages.append(caught.value.message)
    await http.aclose()
    assert all(KEY not in m and REDACTED in m for m in messages), messages
