"""`POST /v1/select-model`: the router's choice for a prompt among the given models."""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from application.model_selection import ModelSelectionService
from entrypoints.http.io import json_response, read_json
from entrypoints.http.schemas.select_model import decision_body, parse_query


def register(router: Router) -> None:
    router.add_post("/v1/select-model", select_model)


async def select_model(request: Request, selection: ModelSelectionService) -> Response:
    body = await read_json(request, 1024 * 1024)
    routed = await selection.select(parse_query(body, selection.default_cost_bias))
    return json_response(decision_body(routed), headers=[(b"x-adaptive-selection", routed.source.encode())])
