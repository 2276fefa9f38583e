"""What a translation to another family does with the parts of a body the domain does not carry.

The parsers record each such part on `ChatRequest.untranslated` (the same-family passthrough sends
the client's own body, so there nothing is lost). When the request is translated for a provider of
another family:

- a part the inbound family does not define (`{"type": "bogus_part"}`) is refused: 400 naming it;
- a known part the target cannot take (audio, documents, files, server tools, ...) is dropped,
  and `x-adaptive-notes` names it; the request is refused instead when that leaves the last user
  turn empty, or when `tool_choice` forces a dropped server tool.

docs/translation.md lists the parts of each family.
"""

from __future__ import annotations

from domain.chat import ChatRequest, Family, Untranslated
from domain.errors import InvalidRequest


def _describe(item: Untranslated) -> str:
    return f"{item.where} ({item.kind})"


def check_translation(request: ChatRequest, target: Family) -> None:
    """Raise InvalidRequest when `request` cannot go to a provider of family `target`."""
    if request.raw_family is None or request.raw_family == target or not request.untranslated:
        return
    for item in request.untranslated:
        if not item.known:
            raise InvalidRequest(f"{item.where}: unknown {request.raw_family} content part {item.kind!r}; "
                                 f"it cannot be translated for a provider of kind {target}", param=item.where,
                                 code="unsupported_content")
    choice = request.tool_choice
    if choice is not None and choice.mode == "tool":
        forced = next((i for i in request.untranslated if i.name is not None and i.name == choice.name), None)
        if forced is not None:
            raise InvalidRequest(f"tool_choice requires {_describe(forced)}, which a provider of kind {target} "
                                 "does not have", param="tool_choice", code="unsupported_content")
    last = request.messages[-1] if request.messages else None
    if last is not None and last.role == "user" and not last.content:
        dropped = ", ".join(_describe(i) for i in request.untranslated if i.name is None)
        raise InvalidRequest(f"the last user turn holds only parts a provider of kind {target} cannot take: "
                             f"{dropped}", param="messages", code="unsupported_content")


def translation_notes(request: ChatRequest, target: Family) -> list[str]:
    """One note per part dropped when `request` went to a provider of family `target`."""
    if request.raw_family is None or request.raw_family == target:
        return []
    return [f"dropped {_describe(item)}: a provider of kind {target} cannot take it"
            for item in request.untranslated if item.known]
