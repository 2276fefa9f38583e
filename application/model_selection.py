"""`POST /v1/select-model`: ask the router which model it would use, without calling any model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from application.routing import Routed, RoutingService
from application.settings import ModelRouterSettings
from domain.catalog import ModelInfo
from domain.errors import InvalidRequest
from domain.routing import RoutingInput, estimated_tokens

_NUMBER_FIELDS = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok", "quality")
# The original gateway's capability field names -> ours (both spellings are accepted).
_ORIGINAL_FIELDS = {
    "model_name": "model",
    "cost_per_1m_input_tokens": "input_per_mtok",
    "cost_per_1m_output_tokens": "output_per_mtok",
    "max_context_tokens": "context_window",
    "supports_tool_calling": "supports_tools",
}
_KNOWN_FIELDS = frozenset({"provider", "model", *_NUMBER_FIELDS, "context_window", "max_output_tokens",
                           "supports_tools", "supports_vision", *_ORIGINAL_FIELDS})


@dataclass(frozen=True, slots=True)
class ModelQuery:
    models: list[ModelInfo]
    prompt: str
    cost_bias: float
    needs_tools: bool
    max_output_tokens: int = 0


def _canonical(item: dict[str, Any], param: str) -> dict[str, Any]:
    unknown = sorted(set(item) - _KNOWN_FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown model field {unknown[0]!r}; known fields: " + ", ".join(sorted(_KNOWN_FIELDS)),
                             param=f"{param}.{unknown[0]}")
    fields = dict(item)
    for original, ours in _ORIGINAL_FIELDS.items():
        if original in fields:
            value = fields.pop(original)
            if ours in fields and fields[ours] != value:
                raise InvalidRequest(f"{original} and {ours} disagree; send one of them", param=f"{param}.{original}")
            fields[ours] = value
    return fields


def _positive_int(value: Any, name: str, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidRequest(f"{name} must be a positive integer", param=param)
    return value


def _model(item: Any, index: int) -> ModelInfo:
    param = f"models[{index}]"
    if not isinstance(item, dict):
        raise InvalidRequest("each model must be an object with provider and model", param=param)
    item = _canonical(item, param)
    provider, model = item.get("provider"), item.get("model")
    if not isinstance(provider, str) or not provider or not isinstance(model, str) or not model:
        raise InvalidRequest("provider and model are required strings", param=param)
    fields: dict[str, Any] = {}
    for name in _NUMBER_FIELDS:
        value = item.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidRequest(f"{name} must be a non-negative number", param=f"{param}.{name}")
            fields[name] = float(value)
    if "quality" in fields and fields["quality"] > 1:
        raise InvalidRequest("quality must be between 0 and 1", param=f"{param}.quality")
    for name in ("context_window", "max_output_tokens"):
        if item.get(name) is not None:
            fields[name] = _positive_int(item[name], name, f"{param}.{name}")
    for flag in ("supports_tools", "supports_vision"):
        if flag in item:
            if not isinstance(item[flag], bool):
                raise InvalidRequest(f"{flag} must be true or false", param=f"{param}.{flag}")
            fields[flag] = item[flag]
    return ModelInfo(provider=provider, model=model, **fields)


def parse_query(body: dict[str, Any], default_cost_bias: float) -> ModelQuery:
    models = body.get("models")
    if not isinstance(models, list) or not models:
        raise InvalidRequest("models must be a non-empty array", param="models")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("prompt must be a non-empty string", param="prompt")
    bias = body.get("cost_bias", default_cost_bias)
    if isinstance(bias, bool) or not isinstance(bias, int | float) or not 0 <= bias <= 1:
        raise InvalidRequest("cost_bias must be a number between 0 and 1", param="cost_bias")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise InvalidRequest("tools must be an array", param="tools")
    wanted = body.get("max_output_tokens", body.get("max_tokens"))
    max_output = 0 if wanted is None else _positive_int(wanted, "max_tokens", "max_tokens")
    return ModelQuery(models=[_model(m, i) for i, m in enumerate(models)], prompt=prompt, cost_bias=float(bias),
                      needs_tools=bool(tools), max_output_tokens=max_output)


class ModelSelectionService:
    """The same routing path as a chat request (routing cache, external or built-in router), over
    the caller's own candidate list; the YAML's `model_router` settings apply."""

    def __init__(self, routing: RoutingService, options: ModelRouterSettings) -> None:
        self._routing = routing
        self._options = options
        self.default_cost_bias = options.cost_bias

    async def select(self, query: ModelQuery) -> Routed:
        """The router's choice for the query (raises NoCapableModel, a 400, when none fits)."""
        inp = RoutingInput(prompt=query.prompt, needs_tools=query.needs_tools,
                           estimated_tokens=estimated_tokens(query.prompt), max_output_tokens=query.max_output_tokens)
        return await self._routing.route(query.models, inp, query.cost_bias, self._options)


def decision_body(routed: Routed) -> dict[str, Any]:
    decision = routed.decision
    body: dict[str, Any] = {
        "provider": decision.model.provider,
        "model": decision.model.model,
        "alternatives": [{"provider": m.provider, "model": m.model} for m in decision.alternatives],
        "difficulty": None if decision.difficulty is None else round(decision.difficulty, 4),
        "source": routed.source,
    }
    if routed.cache_tier is not None:
        body["cache_tier"] = routed.cache_tier
    if routed.notes:  # why a cached choice or the external router was passed over
        body["notes"] = routed.notes
    return body
