"""`POST /v1/select-model`: the request and response bodies, and their mapping to application types.

A candidate model is described with our field names or the original gateway's (`model_name`,
`cost_per_1m_input_tokens`, `cost_per_1m_output_tokens`, `max_context_tokens`,
`supports_tool_calling`); both spellings are accepted, and an unknown field is a 400 naming it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import ErrorDetails

from application.model_selection import ModelQuery
from application.routing import Routed
from domain.catalog import ModelInfo
from domain.errors import InvalidRequest
from entrypoints.http.schemas.validation import parse

NUMBER_FIELDS = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok", "quality")
INTEGER_FIELDS = ("context_window", "max_output_tokens")
FLAGS = ("supports_tools", "supports_vision")
# The original gateway's capability field names -> ours.
ORIGINAL_FIELDS = {
    "model_name": "model",
    "cost_per_1m_input_tokens": "input_per_mtok",
    "cost_per_1m_output_tokens": "output_per_mtok",
    "max_context_tokens": "context_window",
    "supports_tool_calling": "supports_tools",
}
NonNegative = Field(default=None, ge=0)
Positive = Field(default=None, gt=0)


class CandidateModel(BaseModel):
    """One model the router may choose: a provider, a model name and what it costs and can do."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    provider: str = Field(min_length=1)
    model: str | None = Field(default=None, min_length=1)
    input_per_mtok: float | None = NonNegative
    output_per_mtok: float | None = NonNegative
    cache_read_per_mtok: float | None = NonNegative
    cache_write_per_mtok: float | None = NonNegative
    quality: float | None = Field(default=None, ge=0, le=1)
    context_window: int | None = Positive
    max_output_tokens: int | None = Positive
    supports_tools: bool | None = None
    supports_vision: bool | None = None
    model_name: str | None = Field(default=None, min_length=1, description="the original gateway's `model`")
    cost_per_1m_input_tokens: float | None = Field(default=None, ge=0, description="= input_per_mtok")
    cost_per_1m_output_tokens: float | None = Field(default=None, ge=0, description="= output_per_mtok")
    max_context_tokens: int | None = Field(default=None, gt=0, description="= context_window")
    supports_tool_calling: bool | None = Field(default=None, description="= supports_tools")

    def to_model_info(self, param: str) -> ModelInfo:
        fields = self.model_dump(exclude_none=True)
        for original, ours in ORIGINAL_FIELDS.items():
            if original in fields:
                value = fields.pop(original)
                if ours in fields and fields[ours] != value:
                    raise InvalidRequest(f"{original} and {ours} disagree; send one of them",
                                         param=f"{param}.{original}")
                fields[ours] = value
        if "model" not in fields:
            raise InvalidRequest("provider and model are required strings", param=param)
        for name in NUMBER_FIELDS:
            if name in fields:
                fields[name] = float(fields[name])
        return ModelInfo(**fields)


class SelectModelRequest(BaseModel):
    """The candidates and the prompt; unknown top-level fields are ignored."""

    models: list[CandidateModel] = Field(min_length=1)
    prompt: str = Field(pattern=r"\S")
    cost_bias: float | None = Field(default=None, ge=0, le=1, description="0 cheapest .. 1 best; default from config")
    tools: list[Any] | None = Field(default=None, description="any tools make only tool-capable models eligible")
    max_output_tokens: int | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0, description="= max_output_tokens")

    def to_query(self, default_cost_bias: float) -> ModelQuery:
        wanted = self.max_output_tokens if self.max_output_tokens is not None else self.max_tokens
        bias = default_cost_bias if self.cost_bias is None else self.cost_bias
        return ModelQuery(models=[m.to_model_info(f"models[{i}]") for i, m in enumerate(self.models)],
                          prompt=self.prompt, cost_bias=float(bias), needs_tools=bool(self.tools),
                          max_output_tokens=wanted or 0)


class ModelRef(BaseModel):
    provider: str
    model: str


class SelectModelResponse(BaseModel):
    """The router's choice. `cache_tier` only when the routing cache was consulted; `notes` only
    when a cached choice or the external router was passed over."""

    provider: str
    model: str
    alternatives: list[ModelRef]
    difficulty: float | None
    source: str
    cache_tier: str | None = None
    notes: list[str] | None = None


KNOWN_MODEL_FIELDS = sorted(CandidateModel.model_fields)
_TOP_LEVEL = {
    "models": "models must be a non-empty array",
    "prompt": "prompt must be a non-empty string",
    "cost_bias": "cost_bias must be a number between 0 and 1",
    "tools": "tools must be an array",
    "max_output_tokens": "max_tokens must be a positive integer",
    "max_tokens": "max_tokens must be a positive integer",
}


def _explain(error: ErrorDetails, param: str) -> str | None:
    loc = error["loc"]
    if len(loc) == 1:
        return _TOP_LEVEL.get(str(loc[0]))
    if len(loc) == 2:  # models[i] itself
        return "each model must be an object with provider and model"
    name = str(loc[2])
    if error["type"] == "extra_forbidden":
        return f"unknown model field {name!r}; known fields: " + ", ".join(KNOWN_MODEL_FIELDS)
    if name in ("provider", "model", "model_name"):
        return "provider and model are required strings"
    if name == "quality" and error["type"] == "less_than_equal":
        return "quality must be between 0 and 1"
    if name in NUMBER_FIELDS or name.startswith("cost_per_1m"):
        return f"{name} must be a non-negative number"
    if name in INTEGER_FIELDS or name == "max_context_tokens":
        return f"{name} must be a positive integer"
    return f"{name} must be true or false"


def parse_query(body: dict[str, Any], default_cost_bias: float) -> ModelQuery:
    return parse(SelectModelRequest, body, _explain).to_query(default_cost_bias)


def decision_body(routed: Routed) -> dict[str, Any]:
    decision = routed.decision
    response = SelectModelResponse(
        provider=decision.model.provider, model=decision.model.model,
        alternatives=[ModelRef(provider=m.provider, model=m.model) for m in decision.alternatives],
        difficulty=None if decision.difficulty is None else round(decision.difficulty, 4), source=routed.source,
        cache_tier=routed.cache_tier, notes=list(routed.notes) or None)
    omit = {name for name in ("cache_tier", "notes") if getattr(response, name) is None}
    return response.model_dump(exclude=omit)
