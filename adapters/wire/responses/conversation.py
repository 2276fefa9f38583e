"""What `store: true` keeps, and how `previous_response_id` continues from it.

A stored document is `{"response": <the response object>, "items": [...]}` where `items` is
the whole conversation so far as Responses input items: the history it continued, its own
input, then its output. Output items (message / function_call / reasoning) are valid input
items as they are, so a continuation is `history + new input` parsed like any request, and the
next provider may be of any kind.
"""

from __future__ import annotations

from typing import Any

from domain.errors import InvalidRequest, NotFound

Document = dict[str, Any]


def history_of(document: Document | None, response_id: str) -> list[dict[str, Any]]:
    """The items a continuation of `response_id` starts from (an unknown id is the client's error)."""
    if document is None:
        raise InvalidRequest(f"Previous response with id '{response_id}' not found.",
                             param="previous_response_id", code="previous_response_not_found")
    items = document.get("items")
    return list(items) if isinstance(items, list) else []


def document_for(response: dict[str, Any], history: list[dict[str, Any]],
                 input_items: list[dict[str, Any]]) -> Document:
    output = [item for item in response.get("output", []) if isinstance(item, dict)]
    return {"response": response, "items": [*history, *input_items, *output]}


def deleted_body(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "object": "response.deleted", "deleted": True}


def not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id", code="not_found")
