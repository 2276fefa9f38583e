"""Every candidate's breaker open: 503 in the family's shape with Retry-After = the time until the
first breaker lets a probe through (what the SDKs retry on), not a 502."""

from __future__ import annotations

import httpx2
from blacksheep.contents import JSONContent

from tests.clock import FrozenClock

CONFIG = {
    "providers": {
        "up": {"kind": "openai", "base_url": "http://oai.test/v1", "api_key": "sk-up", "models": {"m1": {}}},
    },
    "fallback": {"max_retries": 0, "breaker": {"failure_threshold": 1, "open_timeout_ms": 60_000}},
}
CALLS = [
    ("/v1/chat/completions", {"model": "up:m1", "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/messages", {"model": "up:m1", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1beta/models/up:m1:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}),
]


async def test_all_breakers_open_is_a_503_with_the_remaining_open_time(gateway) -> None:
    calls = []

    def broken(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        return httpx2.Response(500, json={"error": {"message": "down"}})

    clock = FrozenClock()
    client = await gateway(CONFIG, broken, clock=clock)
    first = await client.post(CALLS[0][0], content=JSONContent(CALLS[0][1]))
    assert first.status == 502 and len(calls) == 1  # the failure that opens the breaker
    clock.t += 15
    answers = [await client.post(path, content=JSONContent(body)) for path, body in CALLS]
    assert len(calls) == 1  # nothing was sent while the breaker is open
    assert [a.status for a in answers] == [503, 503, 503]
    assert [a.headers.get_first(b"retry-after") for a in answers] == [b"45", b"45", b"45"]
    openai, anthropic, gemini = [await a.json() for a in answers]
    assert openai["error"]["code"] == "circuit_open" and "breakers open" in openai["error"]["message"]
    assert anthropic["type"] == "error" and anthropic["error"]["type"] == "overloaded_error"
    assert gemini["error"]["code"] == 503 and gemini["error"]["status"] == "UNAVAILABLE"
    clock.t += 44.5
    assert (await client.post(CALLS[0][0], content=JSONContent(CALLS[0][1]))).headers.get_first(
        b"retry-after") == b"1"  # never early, never zero
