"""The response cache through a real gateway and the official SDKs: the same request twice reaches
the fake upstream once, streamed or not, in every family; a changed parameter, `no-cache` and a
stream cut short all go upstream again; semantic mode answers a near-identical prompt."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.conftest import three_provider_config

pytestmark = pytest.mark.e2e

MODEL = "fake_openai:gpt-4o-mini"
NO_RETRIES = {"mode": "off", "max_retries": 0, "breaker": {"failure_threshold": 1_000_000}}


@pytest.fixture(scope="module")
def gateway(start_gateway: Any, fake_upstream: str) -> str:
    # An embedder is configured but semantic lookups stay off unless a request turns them on.
    return start_gateway(three_provider_config(fake_upstream, fallback=NO_RETRIES, prompt_cache={"enabled": True},
                                               embeddings={"provider": "fake_openai", "model": "fake-embedding"}))


@pytest.fixture(scope="module")
def oai(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=f"{gateway}/v1", max_retries=0, timeout=10)


@pytest.fixture(scope="module")
def claude(gateway: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="client-key", base_url=gateway, max_retries=0, timeout=10)


@pytest.fixture(scope="module")
def gemini(gateway: str) -> genai.Client:
    return genai.Client(api_key="client-key", http_options=gtypes.HttpOptions(base_url=gateway, timeout=10_000))


def upstream_calls(fake: Any) -> int:
    return int(fake.stats()["requests"])


def ask_openai(client: openai.OpenAI, prompt: str, **extra: Any) -> tuple[str, str | None]:
    params: dict[str, Any] = {"model": MODEL, "max_tokens": 40, "messages": [{"role": "user", "content": prompt}],
                              **extra}
    raw = client.chat.completions.with_raw_response.create(**params)
    return raw.parse().choices[0].message.content or "", raw.headers.get("x-adaptive-cache")


def stream_openai(client: openai.OpenAI, prompt: str) -> tuple[str, str | None, Any]:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, max_tokens=40, messages=[{"role": "user", "content": prompt}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, raw.headers.get("x-adaptive-cache"), chunks[-1].usage


def test_openai_sdk_same_request_twice_reaches_upstream_once(fake: Any, oai: openai.OpenAI) -> None:
    first = ask_openai(oai, "e2e cache: openai plain")
    second = ask_openai(oai, "e2e cache: openai plain")
    assert first == ("Fake reply to: e2e cache: openai plain", "miss")
    assert second == (first[0], "exact")
    assert upstream_calls(fake) == 1


def test_openai_sdk_streamed_twice_reaches_upstream_once_and_replays_a_stream(fake: Any, oai: openai.OpenAI) -> None:
    live = stream_openai(oai, "e2e cache: openai stream")
    replay = stream_openai(oai, "e2e cache: openai stream")
    assert live[0] == replay[0] == "Fake reply to: e2e cache: openai stream"
    assert (live[1], replay[1]) == ("miss", "exact")
    assert replay[2].total_tokens == 0 and replay[2].model_extra == {"cache_tier": "exact"}
    assert upstream_calls(fake) == 1
    assert ask_openai(oai, "e2e cache: openai stream")[1] == "exact"  # a streamed entry serves plain calls


def test_anthropic_sdk_plain_and_streamed(fake: Any, claude: anthropic.Anthropic) -> None:
    def ask(prompt: str) -> tuple[str, str | None]:
        raw = claude.messages.with_raw_response.create(model=MODEL, max_tokens=40,
                                                       messages=[{"role": "user", "content": prompt}])
        message = raw.parse()
        return message.content[0].text, raw.headers.get("x-adaptive-cache")  # type: ignore[union-attr]

    def stream(prompt: str) -> str:
        with claude.messages.stream(model=MODEL, max_tokens=40,
                                    messages=[{"role": "user", "content": prompt}]) as s:
            return s.get_final_text()

    assert ask("e2e cache: anthropic plain")[1] == "miss"
    assert ask("e2e cache: anthropic plain") == ("Fake reply to: e2e cache: anthropic plain", "exact")
    assert stream("e2e cache: anthropic stream") == stream("e2e cache: anthropic stream")
    assert upstream_calls(fake) == 2


def test_gemini_sdk_plain_and_streamed(fake: Any, gemini: genai.Client) -> None:
    config = gtypes.GenerateContentConfig(max_output_tokens=40)

    def ask(prompt: str) -> str:
        return gemini.models.generate_content(model=MODEL, contents=prompt, config=config).text or ""

    def stream(prompt: str) -> str:
        return "".join(c.text or "" for c in gemini.models.generate_content_stream(model=MODEL, contents=prompt,
                                                                                   config=config))

    assert ask("e2e cache: gemini plain") == ask("e2e cache: gemini plain") == "Fake reply to: e2e cache: gemini plain"
    assert stream("e2e cache: gemini stream") == stream("e2e cache: gemini stream")
    assert upstream_calls(fake) == 2


def test_one_family_writes_and_the_others_read(fake: Any, oai: openai.OpenAI, claude: anthropic.Anthropic,
                                               gemini: genai.Client) -> None:
    prompt = "e2e cache: shared across families"
    written = ask_openai(oai, prompt)[0]
    message = claude.messages.create(model=MODEL, max_tokens=40,
                                     messages=[{"role": "user", "content": prompt}])
    answer = gemini.models.generate_content(
        model=MODEL, contents=prompt, config=gtypes.GenerateContentConfig(max_output_tokens=40))
    assert message.content[0].text == answer.text == written  # type: ignore[union-attr]
    assert upstream_calls(fake) == 1


def test_a_changed_parameter_and_no_cache_go_upstream(fake: Any, oai: openai.OpenAI) -> None:
    prompt = "e2e cache: changed parameter"
    ask_openai(oai, prompt)
    assert ask_openai(oai, prompt, max_tokens=3)[1] == "miss"
    assert ask_openai(oai, prompt, top_p=0.5)[1] == "miss"
    assert ask_openai(oai, prompt, extra_headers={"Cache-Control": "no-cache"})[1] == "miss"
    assert ask_openai(oai, prompt)[1] == "exact"
    assert upstream_calls(fake) == 4


def test_a_stream_cut_short_is_not_stored(fake: Any, oai: openai.OpenAI) -> None:
    prompt = "e2e cache: cut stream with enough words to cut"
    fake.script({"cut_after": 2})
    with pytest.raises(openai.APIError):
        stream_openai(oai, prompt)
    assert stream_openai(oai, prompt)[1] == "miss"
    assert stream_openai(oai, prompt)[1] == "exact"
    assert upstream_calls(fake) == 2


def test_semantic_mode_answers_a_near_identical_prompt(fake: Any, oai: openai.OpenAI) -> None:
    semantic = {"prompt_cache": {"semantic": True, "semantic_threshold": 0.9}}
    first = ask_openai(oai, "What is the capital city of France?", extra_body=semantic)
    near = ask_openai(oai, "what is the capital city of france", extra_body=semantic)
    far = ask_openai(oai, "Write a haiku about autumn leaves", extra_body=semantic)
    assert (first[1], near[1], far[1]) == ("miss", "semantic", "miss")
    assert near[0] == first[0]
    by_path = fake.stats()["by_path"]
    assert by_path["/v1/chat/completions"] == 2 and by_path["/v1/embeddings"] == 3
