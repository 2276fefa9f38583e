"""What a client's wire body says beyond its domain form: the response cache keys on it.

Same-family requests pass their wire body to the provider (see the `raw` note in domain.chat),
so a field the domain does not model still changes the answer. `residue(request)` answers:

  {}    the domain form is the whole request: the key is family-free and an entry written through
        one API serves the same conversation asked through another;
  dict  answer-changing fields outside the domain that a replayed domain response still answers
        faithfully (penalties, safety settings, thinking configuration, tool `strict` flags...):
        they join the key together with the family;
  None  the body holds what the domain drops or what a domain response cannot reproduce
        (documents, audio or other non-image media, logprobs, server tools, citations,
        a system message in the middle of a conversation...): the request is not cached.

Each family is an allowlist: anything not listed (with a value other than null or false)
makes the request uncacheable, so a field added to an API tomorrow can never cause a wrong hit.

This module holds the shared rules; each family's allowlist is `adapters/wire/<family>/residue.py`
and `adapters.wire.codecs.residue` picks the one for a request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Residue = dict[str, Any] | None


class Lossy(Exception):
    """The body holds something the domain form cannot carry."""


def absent(value: Any) -> bool:
    # Not {} or []: an empty object can switch a feature on (Gemini `googleSearch: {}`).
    return value is None or value is False


def only(obj: Any, allowed: Iterable[str]) -> dict[str, Any]:
    """`obj` as a dict whose present keys are all in `allowed` (else lossy)."""
    if not isinstance(obj, dict):
        raise Lossy
    allowed = frozenset(allowed)
    if any(k not in allowed and not absent(v) for k, v in obj.items()):
        raise Lossy
    return obj


def fits(obj: Any, allowed: Iterable[str]) -> bool:
    try:
        only(obj, allowed)
    except Lossy:
        return False
    return True


def top_level(body: dict[str, Any], neutral: frozenset[str], modelled: frozenset[str],
               sampling: frozenset[str]) -> dict[str, Any]:
    residue: dict[str, Any] = {}
    for key, value in body.items():
        if key in neutral or key in modelled or absent(value):
            continue
        if key not in sampling:
            raise Lossy
        residue[key] = value
    return residue
