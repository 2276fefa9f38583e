"""Every client-facing API family's codec, by family (domain.chat.Family), and the response
cache's residue of a request, whichever family's body it came as."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.wire.anthropic import CODEC as ANTHROPIC
from adapters.wire.cache_residue import Lossy, Residue
from adapters.wire.codec import Codec
from adapters.wire.gemini import CODEC as GEMINI
from adapters.wire.openai import CODEC as OPENAI
from adapters.wire.responses.residue import residue as responses_residue
from domain.chat import ChatRequest, Family

CODECS: dict[Family, Codec] = {"openai": OPENAI, "anthropic": ANTHROPIC, "gemini": GEMINI}

# The Responses API is served by its own routes (it keeps conversation state), not a Codec.
_RESIDUES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    **{family: codec.residue for family, codec in CODECS.items()}, "responses": responses_residue}


def residue(request: ChatRequest) -> Residue:
    """The request's answer-changing wire fields outside the domain ({} for none), or None when
    the request cannot be answered from a cached domain response."""
    if request.raw is None:
        return {}
    if request.untranslated:  # parts the domain form does not hold (adapters/wire/untranslated.py)
        return None
    check = _RESIDUES.get(request.raw_family or "")
    if check is None:
        return None
    try:
        return check(request.raw)
    except (Lossy, AttributeError, TypeError):
        return None
