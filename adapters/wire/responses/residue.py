"""The OpenAI Responses API body's cache residue: its allowlist (see adapters/wire/cache_residue.py)."""

from __future__ import annotations

from typing import Any

from adapters.wire.cache_residue import Lossy, top_level
from application.request_config import OVERRIDE_FIELDS

# Passed through to providers that have the API: hosted tools (web_search...) and fields the
# domain does not model would change the answer there.
_RESPONSES_NEUTRAL = OVERRIDE_FIELDS | {"model", "stream", "store", "metadata", "user", "safety_identifier",
                                      "include", "prompt_cache_key", "parallel_tool_calls"}
_RESPONSES_MODELLED = frozenset({"input", "instructions", "tools", "tool_choice", "max_output_tokens",
                                 "temperature", "top_p", "text", "reasoning"})
_RESPONSES_SAMPLING = frozenset({"truncation", "service_tier", "top_logprobs"})


def residue(body: dict[str, Any]) -> dict[str, Any]:
    extra = top_level(body, _RESPONSES_NEUTRAL, _RESPONSES_MODELLED, _RESPONSES_SAMPLING)
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or tool.get("type") not in ("function", "custom", "namespace"):
            raise Lossy
    return extra
