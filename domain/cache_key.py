"""Prompt-response cache rules: what may be cached, under which key, and how close is close.

Pure functions over domain requests and responses; the stores (ports.ResponseCache) and the use
case (application.response_cache) build on them.

The exact key is the SHA-256 of a canonical JSON form of everything that can change the answer:
- the target: the resolved `provider:model`, or the routing inputs when the router chooses
  (the caller passes those in `KeyContext.target`);
- the conversation: system text, every message (role, name, text, images, tool calls and tool
  results, thinking), with tool-call ids renumbered by first appearance (ids are random per
  client run and never change an answer, their pairing does);
- tools, tool choice, sampling and length parameters, stop sequences, seed, response format,
  reasoning effort and thinking budget;
- `KeyContext.wire`: the inbound family plus the wire fields the domain does not model, when the
  request carries any (see application.response_cache for who computes them);
- `KeyContext.scope` (who may share an entry) and `KeyContext.namespace` (the configuration).
Left out, because they never change the answer: `raw` (its answer-changing content is either in
the domain form or in `wire`), `stream`, `include_usage`, `user`, `metadata`, and the
`cache_control` markers of provider prompt caching (they change price, not text).

The inbound family is deliberately NOT in the key when the domain form holds the whole request:
the entry stores a family-neutral domain response, so an answer written through the OpenAI API
serves the same conversation asked through the Anthropic or Gemini API. Only requests whose wire
body holds answer-changing fields outside the domain (OpenAI `frequency_penalty`, Gemini
`safetySettings`, ...) are keyed per family, with those fields.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from domain.chat import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    Usage,
)

KEY_VERSION = 1
CacheTier = Literal["miss", "exact", "semantic"]


def reported_cache_tier(response_tier: str | None, routing_tier: str | None) -> str | None:
    """The one `usage.cache_tier` a client sees, whichever cache layers were in play:
    `exact` / `semantic` when the response cache answered, `routing_exact` / `routing_semantic`
    when only the model choice came from the routing cache (the answer is the provider's),
    `miss` when a layer was consulted and nothing hit, None when no cache layer was in play."""
    if response_tier in ("exact", "semantic"):
        return response_tier
    if routing_tier in ("exact", "semantic"):
        return f"routing_{routing_tier}"
    return "miss" if response_tier or routing_tier else None
HIT_TIERS: frozenset[str] = frozenset({"exact", "semantic"})


@dataclass(frozen=True, slots=True)
class KeyContext:
    """What besides the request decides the answer, and who may share it."""

    target: Any  # JSON-able: ["manual", "provider:model"] or the routing inputs
    scope: str = ""  # "" shares across callers; else an organization or key id
    namespace: str = ""  # a digest of the provider configuration: a config change starts afresh
    wire: Any = None  # [family, {field: value}] for answer-changing fields outside the domain


@dataclass(slots=True)
class CachedResponse:
    """A stored answer: the family-neutral response and the target that produced it."""

    response: ChatResponse
    provider: str
    model: str
    stored_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


# --- canonical form ----------------------------------------------------------------------------


class _Ids:
    """Tool-call ids renumbered in order of first appearance."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}

    def __call__(self, value: str | None) -> str | None:
        if value is None:
            return None
        found = self._ids.get(value)
        if found is None:
            found = self._ids[value] = f"#{len(self._ids)}"
        return found


def _part(part: Part, blank_text: bool) -> list[Any]:
    if isinstance(part, TextPart):
        return ["t", "" if blank_text else part.text]
    if isinstance(part, ImagePart):
        return ["i", part.url, part.data, part.media_type, part.detail]
    return ["k", "" if blank_text else part.text, part.signature, part.signed_by]


def _message(m: Message, ids: _Ids, blank_text: bool) -> list[Any]:
    return [m.role, m.name, [_part(p, blank_text) for p in m.content],
            [[ids(c.id), c.name, c.arguments] for c in m.tool_calls], ids(m.tool_call_id), m.is_error]


def _parameters(request: ChatRequest) -> list[Any]:
    choice = request.tool_choice
    fmt = request.response_format
    return [
        [[t.name, t.description, t.parameters] for t in request.tools],
        None if choice is None else [choice.mode, choice.name, choice.parallel],
        request.max_tokens, request.temperature, request.top_p, request.top_k, request.stop, request.n,
        request.seed, None if fmt is None else [fmt.type, fmt.schema, fmt.name, fmt.strict],
        request.reasoning_effort, request.thinking_budget,
    ]


def canonical_request(request: ChatRequest, *, blank_text: bool = False) -> list[Any]:
    """The request as plain JSON-able data, without the fields that never change the answer.

    `blank_text` empties every text (system, messages, thinking) but keeps the structure: two
    requests with equal blanked forms differ only in what they say, which is what a semantic
    comparison then judges.
    """
    ids = _Ids()
    system = ["" if blank_text else p.text for p in request.system]
    return [system, [_message(m, ids, blank_text) for m in request.messages], _parameters(request)]


def _digest(payload: Any) -> str:
    text = json.dumps(payload, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def exact_key(request: ChatRequest, context: KeyContext) -> str:
    """Hex SHA-256 of the canonical request in its context (64 characters)."""
    return _digest([KEY_VERSION, "exact", context.scope, context.namespace, context.target, context.wire,
                    canonical_request(request)])


def semantic_bucket(request: ChatRequest, context: KeyContext) -> str:
    """The semantic neighbourhood: same target, parameters and conversation shape, any wording."""
    return _digest([KEY_VERSION, "semantic", context.scope, context.namespace, context.target, context.wire,
                    canonical_request(request, blank_text=True)])


def semantic_text(request: ChatRequest, max_chars: int) -> str | None:
    """The text to embed for a semantic lookup, or None when the request is not eligible.

    Eligible: plain conversations. Tool calls and tool results are excluded (two weather reports
    embed as near-twins and must not share an answer), so is thinking in the history, and so is
    a prompt longer than `max_chars` (an embedding model would truncate it, and two prompts that
    differ only past the cut would look identical).
    """
    lines = [f"system: {p.text}" for p in request.system if p.text]
    for m in request.messages:
        if m.role == "tool" or m.tool_calls or any(isinstance(p, ThinkingPart) for p in m.content):
            return None
        lines.append(f"{m.role}: {m.text()}")
    text = "\n".join(lines)
    return text if text and len(text) <= max_chars else None


# --- rules -------------------------------------------------------------------------------------


def uncacheable_reason(request: ChatRequest, *, allow_nonzero_temperature: bool) -> str | None:
    """Why this request must not use the cache, or None when it may.

    A temperature above 0 asks for a fresh sample each time: such requests are cached only when
    the configuration allows it. An unset temperature (the provider's default) is cached: the
    caller asked for no particular variety. More than one choice (`n`) is never cached: the
    domain response keeps the first choice only.
    """
    if request.n != 1:
        return "n > 1"
    if request.temperature is not None and request.temperature > 0 and not allow_nonzero_temperature:
        return "temperature > 0"
    if not request.messages:
        return "no messages"
    return None


def storable(response: ChatResponse) -> bool:
    """Only complete, successful, tool-free answers are stored.

    - finish `stop` or `length` (a `length` answer is the complete answer to that max_tokens);
      `content_filter` refusals are not kept;
    - no tool calls: a response that asks for tools hands control to the caller's tools, whose
      results depend on the moment (time, stock, state) and may have side effects; replaying the
      decision (with the same call ids) could make an agent repeat an action. Follow-up requests
      that carry tool results are cached normally: the results are part of their key;
    - something to say (an empty answer is more likely a glitch than an answer).
    """
    if response.finish_reason not in ("stop", "length") or response.tool_calls:
        return False
    return any(isinstance(p, TextPart | ThinkingPart) and p.text for p in response.content)


def for_storage(response: ChatResponse) -> ChatResponse:
    """A copy without the provider's wire body: entries are family-neutral and replayed from the
    domain form (which is why requests whose wire body the domain cannot express are not cached)."""
    u = response.usage
    return ChatResponse(id=response.id, model=response.model, content=list(response.content),
                        tool_calls=list(response.tool_calls), finish_reason=response.finish_reason,
                        usage=Usage(u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens,
                                    u.reasoning_tokens),
                        created=response.created)


def served_from_cache(entry: CachedResponse, tier: CacheTier) -> ChatResponse:
    """The response a hit returns: the stored answer, with zero usage (nothing was bought upstream)
    marked with the tier."""
    r = entry.response
    return ChatResponse(id=r.id, model=r.model, content=r.content, tool_calls=r.tool_calls,
                        finish_reason=r.finish_reason, usage=Usage(cache_tier=tier), created=r.created)


# --- vectors -----------------------------------------------------------------------------------


def normalized(vector: Sequence[float]) -> list[float]:
    """The unit vector (a zero vector stays zero): cosine similarity is then a dot product."""
    norm = math.sqrt(math.fsum(v * v for v in vector))
    return [v / norm for v in vector] if norm else [0.0 for _ in vector]


def dot(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two unit vectors (vectors of different length never match)."""
    if len(a) != len(b):
        return -1.0
    return float(sum(map(operator.mul, a, b)))


def best_match(query: Sequence[float], candidates: Sequence[tuple[str, Sequence[float]]],
               threshold: float) -> list[tuple[float, str]]:
    """(similarity, key) of the candidates at or above `threshold`, best first.

    O(len(candidates) x dimensions): the stores keep at most a fixed number of candidates per
    bucket, so a lookup's cost does not grow with the size of the cache.
    """
    scored = [(dot(query, vector), key) for key, vector in candidates]
    return sorted((s for s in scored if s[0] >= threshold), reverse=True)
