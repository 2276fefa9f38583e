"""Embeddings on the wire: the OpenAI request shapes accepted, and the Gemini translation."""

from __future__ import annotations

import base64
import struct

import pytest

from adapters.wire.embeddings import encode_response, gemini_body, openai_body, parse_gemini, parse_request
from domain.embeddings import Embeddings
from domain.errors import InvalidRequest, UpstreamError


@pytest.mark.parametrize("raw,inputs", [("a", ["a"]), (["a", "b"], ["a", "b"]), ([1, 2], [[1, 2]]),
                                        ([[1], [2, 3]], [[1], [2, 3]])])
def test_input_shapes(raw: object, inputs: object) -> None:
    request, as_base64 = parse_request({"model": "m", "input": raw})
    assert request.inputs == inputs and not as_base64


@pytest.mark.parametrize("body,param", [({"input": []}, "input"), ({"input": [1, "a"]}, "input"),
                                        ({"input": "a", "dimensions": 0}, "dimensions"),
                                        ({"input": "a", "encoding_format": "int8"}, "encoding_format"),
                                        ({"input": "a", "model": 3}, "model")])
def test_bad_input_is_a_400_naming_the_field(body: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_request(body)
    assert err.value.param == param


def test_base64_is_little_endian_float32() -> None:
    out = encode_response(Embeddings([[0.5, -1.0]], input_tokens=3), "m", as_base64=True)
    assert struct.unpack("<2f", base64.b64decode(out["data"][0]["embedding"])) == (0.5, -1.0)
    assert out["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


def test_gemini_gets_one_request_per_text_with_the_dimensions() -> None:
    request, _ = parse_request({"input": ["a", "bbbbbbbb"], "dimensions": 8})
    assert gemini_body(request, "models/e", "g") == {"requests": [
        {"model": "models/e", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 8},
        {"model": "models/e", "content": {"parts": [{"text": "bbbbbbbb"}]}, "outputDimensionality": 8}]}
    result = parse_gemini({"embeddings": [{"values": [1, 0]}, {"values": [0, 1]}]}, request, "g")
    assert result.vectors == [[1.0, 0.0], [0.0, 1.0]] and result.input_tokens == 1 + 2
    with pytest.raises(UpstreamError):
        parse_gemini({"embeddings": [{"values": [1]}]}, request, "g")
    tokens, _ = parse_request({"input": [1, 2]})
    with pytest.raises(InvalidRequest):
        gemini_body(tokens, "models/e", "g")
    assert openai_body(tokens, "e") == {"model": "e", "input": [[1, 2]], "encoding_format": "float"}
