"""Each API family's codec: one object per package, parsing and error framing in its own shape."""

from __future__ import annotations

import orjson
import pytest

from adapters.wire.anthropic import CODEC as ANTHROPIC
from adapters.wire.codec import Codec
from adapters.wire.gemini import CODEC as GEMINI
from adapters.wire.openai import CODEC as OPENAI
from application.settings import ENDPOINTS

BODIES = {
    "openai": ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}, {}),
    "anthropic": ({"model": "m", "max_tokens": 5, "stream": True,
                   "messages": [{"role": "user", "content": "hi"}]}, {}),
    "gemini": ({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, {"model": "m", "stream": True}),
}


def test_one_codec_per_served_endpoint() -> None:
    assert sorted(c.endpoint for c in (OPENAI, ANTHROPIC, GEMINI)) == sorted(ENDPOINTS)
    assert [c.family for c in (OPENAI, ANTHROPIC, GEMINI)] == ["openai", "anthropic", "gemini"]


@pytest.mark.parametrize("codec", [OPENAI, ANTHROPIC, GEMINI], ids=lambda c: c.family)
def test_codec_parses_its_family_and_frames_errors(codec: Codec) -> None:
    body, url = BODIES[codec.family]
    request = codec.parse_request(body, **url)
    assert request.stream is True
    assert request.messages[-1].role == "user"
    frame = codec.stream_encoder(request, "p").error({"error": {"message": "boom"}})
    assert b"boom" in frame


def test_gemini_json_array_stream_ends_with_the_error_element() -> None:
    request = GEMINI.parse_request(*BODIES["gemini"][:1], model="m", stream=True)
    encoder = GEMINI.stream_encoder(request, "p", sse=False)
    frame = encoder.error({"error": {"code": 500, "message": "boom"}})
    assert not frame.startswith(b"data:")
    assert orjson.loads(frame.strip(b"[],\n ")) == {"error": {"code": 500, "message": "boom"}}
