"""Ask the router which model it would use for a prompt, without calling any model.

Serves `POST /v1/select-model` and the dashboard playground; the HTTP request and response
bodies live in `entrypoints/http/schemas/select_model.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.routing import Routed, RoutingService
from application.settings import ModelRouterSettings
from domain.catalog import ModelInfo
from domain.routing import RoutingInput, estimated_tokens
from domain.routing_text import strip_boilerplate


@dataclass(frozen=True, slots=True)
class ModelQuery:
    models: list[ModelInfo]
    prompt: str
    cost_bias: float
    needs_tools: bool
    max_output_tokens: int = 0


class ModelSelectionService:
    """The same routing path as a chat request (routing cache, external or built-in router), over
    the caller's own candidate list; the YAML's `model_router` settings apply."""

    def __init__(self, routing: RoutingService, options: ModelRouterSettings) -> None:
        self._routing = routing
        self._options = options
        self.default_cost_bias = options.cost_bias

    async def select(self, query: ModelQuery) -> Routed:
        """The router's choice for the query (raises NoCapableModel, a 400, when none fits)."""
        # A bare prompt is the task itself; an agent's blocks pasted into it are still left out.
        text, injected = strip_boilerplate(query.prompt)
        inp = RoutingInput(prompt=text, needs_tools=query.needs_tools,
                           estimated_tokens=estimated_tokens(query.prompt), max_output_tokens=query.max_output_tokens,
                           agentic=injected, has_tools=query.needs_tools)
        return await self._routing.route(query.models, inp, query.cost_bias, self._options)
