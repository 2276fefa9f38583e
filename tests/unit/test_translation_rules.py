"""The translation rules of docs/translation.md, unit by unit (the e2e proof: tests/e2e/test_fidelity.py)."""

from __future__ import annotations

import base64

import pytest

from adapters.wire.anthropic.request import parse_request as parse_messages
from adapters.wire.base64_data import standard_base64
from adapters.wire.gemini.request import parse_request as parse_gemini
from adapters.wire.json_schema import from_gemini, lower_types
from adapters.wire.openai.request import parse_request as parse_openai
from adapters.wire.untranslated import check_translation, translation_notes
from domain.cache_key import reported_cache_tier
from domain.errors import InvalidRequest, UpstreamError


@pytest.mark.parametrize("data", [b"\xfb\xff\xfe", b"\xfb\xff", b"a", b"", bytes(range(256))])
def test_url_safe_base64_becomes_standard(data: bytes) -> None:
    url_safe = base64.urlsafe_b64encode(data).decode()
    assert standard_base64(url_safe) == base64.b64encode(data).decode()
    assert standard_base64(url_safe.rstrip("=")) == base64.b64encode(data).decode()  # unpadded too
    assert standard_base64(base64.b64encode(data).decode()) == base64.b64encode(data).decode()


def test_gemini_style_json_schema_is_normalised() -> None:
    schema = {"type": "OBJECT", "propertyOrdering": ["a", "b"], "properties": {
        "a": {"type": "STRING", "nullable": True, "enum": ["x"]},
        "b": {"anyOf": [{"type": "INTEGER", "format": "int64"}], "nullable": True},
        "c": {"type": "STRING", "format": "date-time"}}}
    assert lower_types(schema) == {"type": "object", "properties": {
        "a": {"type": ["string", "null"], "enum": ["x", None]},
        "b": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "c": {"type": "string", "format": "date-time"}}}


def test_gemini_schema_object_is_normalised() -> None:
    schema = {"type": "ARRAY", "min_items": 1, "items": {"type": "NUMBER", "format": "float", "nullable": True}}
    assert from_gemini(schema) == {"type": "array", "minItems": 1, "items": {"type": ["number", "null"]}}


def test_an_unknown_part_is_refused_only_across_families() -> None:
    request = parse_openai({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "hi"}, {"type": "bogus_part"}]}]})
    check_translation(request, "openai")  # same family: the raw body goes, untouched
    with pytest.raises(InvalidRequest) as caught:
        check_translation(request, "anthropic")
    assert caught.value.param == "messages[0].content[1]" and "bogus_part" in caught.value.message


def test_known_parts_are_dropped_with_notes_unless_nothing_remains() -> None:
    request = parse_messages({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}},
        {"type": "text", "text": "Summarise"}]}]})
    check_translation(request, "gemini")
    assert translation_notes(request, "gemini") == [
        "dropped messages.0.content.0 (document): a provider of kind gemini cannot take it"]
    assert translation_notes(request, "anthropic") == []
    only_audio = parse_gemini({"contents": [{"role": "user", "parts": [
        {"inlineData": {"mimeType": "audio/wav", "data": "AAAA"}}]}]}, "m", stream=False)
    with pytest.raises(InvalidRequest, match="inlineData audio/wav"):
        check_translation(only_audio, "openai")


def test_a_forced_server_tool_is_refused() -> None:
    request = parse_messages({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "news"}],
                              "tools": [{"type": "web_search_20250305", "name": "web_search"}],
                              "tool_choice": {"type": "tool", "name": "web_search"}})
    with pytest.raises(InvalidRequest) as caught:
        check_translation(request, "openai")
    assert caught.value.param == "tool_choice"


def test_gemini_part_modifiers_are_not_notes() -> None:
    request = parse_gemini({"contents": [{"role": "user", "parts": [
        {"text": "hi"}, {"thoughtSignature": "sig"}, {"videoMetadata": {"fps": 1}}]}]}, "m", stream=False)
    assert request.untranslated == []


@pytest.mark.parametrize(("response", "routing", "reported"), [
    (None, None, None), ("miss", None, "miss"), (None, "miss", "miss"), ("exact", "exact", "exact"),
    ("miss", "exact", "routing_exact"), (None, "semantic", "routing_semantic"), ("semantic", None, "semantic"),
])
def test_one_cache_tier_vocabulary(response: str | None, routing: str | None, reported: str | None) -> None:
    assert reported_cache_tier(response, routing) == reported


@pytest.mark.parametrize(("status", "kind"), [(503, "unavailable"), (529, "overloaded"), (500, "upstream"),
                                              (None, "upstream")])
def test_upstream_statuses_kept_or_502(status: int | None, kind: str) -> None:
    assert UpstreamError("x", status=status).kind == kind
