"""An external routing service: the second adapter of the `ModelRouter` port.

The gateway applies the hard constraints itself (tools, images, context window) and asks the
service to choose among the capable candidates. `prompt` is the routing text (the latest user
turn with a little context, never the system prompt or tool schemas: domain.routing_text);
`agentic` and `has_tools` are the request's features:

    POST <model_router.external.url>
    Authorization: Bearer <JWT, HS256, signed with model_router.external.jwt_secret;
                           claims iss="adaptive-proxy", aud="model-router", iat, exp=iat+60, jti>
    {"prompt": "...", "turns": 1, "cost_bias": 0.5, "needs_tools": false, "needs_vision": false,
     "agentic": false, "has_tools": false,
     "models": [{"provider", "model", "input_per_mtok", "output_per_mtok", "quality",
                 "context_window", "supports_tools", "supports_vision"}, ...]}

    200 {"provider": "openai", "model": "gpt-4o-mini"}      (or {"model": "openai:gpt-4o-mini"})
        optional: "alternatives": [{"provider", "model"} | "provider:model", ...], "difficulty": 0..1

Anything else — a timeout (`timeout_ms` bounds the whole exchange), a connection error, a non-200
status, a body that is not such an object, or a choice that is not one of the candidates — raises
`UpstreamError`; application.routing counts it on the external router's own breaker and falls
back to the built-in router.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import httpx2
import jwt
import orjson

from application.clock import SYSTEM_CLOCK
from domain.catalog import ModelInfo
from domain.errors import UpstreamError
from domain.ports import Clock
from domain.routing import RoutingDecision, RoutingInput, capable, decision_for

ISSUER = "adaptive-proxy"
AUDIENCE = "model-router"
TOKEN_LIFETIME_S = 60
_NAME = "external router"


def _model_json(m: ModelInfo) -> dict[str, Any]:
    return {"provider": m.provider, "model": m.model, "input_per_mtok": m.input_per_mtok,
            "output_per_mtok": m.output_per_mtok, "quality": m.quality_prior(), "context_window": m.context_window,
            "supports_tools": m.supports_tools, "supports_vision": m.supports_vision}


def _model_id(item: Any) -> str | None:
    if isinstance(item, str):
        return item if ":" in item else None
    if isinstance(item, dict):
        provider, model = item.get("provider"), item.get("model")
        if isinstance(model, str) and model:
            if isinstance(provider, str) and provider:
                return f"{provider}:{model}"
            return model if ":" in model else None
    return None


class ExternalRouter:
    def __init__(self, url: str, jwt_secret: str, timeout_s: float, http_client: httpx2.AsyncClient,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._url = url
        self._secret = jwt_secret
        self._timeout_s = timeout_s
        self._http = http_client
        self._clock = clock

    @property
    def router_id(self) -> str:
        return f"external:{self._url}"

    def token(self) -> str:
        now = int(self._clock.now())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + TOKEN_LIFETIME_S,
                  "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self._secret, algorithm="HS256")

    async def route(self, models: Sequence[ModelInfo], inp: RoutingInput, cost_bias: float) -> RoutingDecision:
        pool = capable(models, inp)
        body = {"prompt": inp.prompt, "turns": inp.turns, "cost_bias": cost_bias, "needs_tools": inp.needs_tools,
                "needs_vision": inp.needs_vision, "agentic": inp.agentic, "has_tools": inp.has_tools,
                "models": [_model_json(m) for m in pool]}
        payload = await self._post(body)
        by_id = {m.key: m for m in pool}
        chosen_id = _model_id(payload)
        chosen = by_id.get(chosen_id) if chosen_id else None
        if chosen is None:
            raise UpstreamError(f"the external router chose {chosen_id or 'no model'}, which is not one of the "
                                f"{len(pool)} candidates", provider=_NAME)
        difficulty = payload.get("difficulty")
        if isinstance(difficulty, bool) or not isinstance(difficulty, int | float) or not 0 <= difficulty <= 1:
            difficulty = None
        decision = decision_for(chosen, pool, None if difficulty is None else float(difficulty))
        named = payload.get("alternatives")
        if isinstance(named, list) and named:
            order: dict[str, int] = {}
            for mid in filter(None, map(_model_id, named)):
                order.setdefault(mid, len(order))  # a repeated id keeps its first place
            ranked = sorted(decision.alternatives, key=lambda m: order.get(m.key, len(order)))
            decision = RoutingDecision(decision.model, tuple(ranked), decision.difficulty)
        return decision

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token()}", "content-type": "application/json"}
        timeout = httpx2.Timeout(self._timeout_s)
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._http.post(self._url, content=orjson.dumps(body), headers=headers,
                                                 timeout=timeout)
        except TimeoutError as exc:
            raise UpstreamError(f"the external router did not answer within {self._timeout_s * 1000:.0f} ms",
                                provider=_NAME, retryable=True) from exc
        except httpx2.HTTPError as exc:
            raise UpstreamError(f"the external router is unreachable: {type(exc).__name__}", provider=_NAME,
                                retryable=True) from exc
        if response.status_code != 200:
            raise UpstreamError(f"the external router answered HTTP {response.status_code}", provider=_NAME,
                                retryable=response.status_code >= 500 or response.status_code == 429)
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("the external router answered with invalid JSON", provider=_NAME) from exc
        if not isinstance(payload, dict):
            raise UpstreamError("the external router answered with a body that is not an object", provider=_NAME)
        return payload
