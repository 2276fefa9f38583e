"""JSON Schema <-> the OpenAPI 3.0 subset Gemini accepts for tool parameters and response schemas.

Gemini rejects a request whose schema uses a keyword it does not know (`$schema`,
`additionalProperties`, `$ref`, `default`, `examples`, ...), a `type` given as a list, a string
`format` other than `enum`/`date-time`, or non-string enum values. `to_gemini` rewrites a JSON
Schema into that subset: references are inlined, `oneOf` becomes `anyOf`, `["string", "null"]`
becomes `nullable`, `const` becomes a one-value enum, and anything else unknown is dropped (with a
debug note). `from_gemini` goes the other way for schemas a Gemini client sent.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# Keywords Gemini's Schema object knows (camelCase, as on the wire).
_KEEP = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "items", "properties", "required",
    "anyOf", "minItems", "maxItems", "minimum", "maximum", "minLength", "maxLength", "pattern",
    "minProperties", "maxProperties", "propertyOrdering",
})
_FORMATS = {"string": {"enum", "date-time"}, "integer": {"int32", "int64"}, "number": {"float", "double"}}
_MAX_DEPTH = 32


def to_gemini(schema: Any) -> dict[str, Any]:
    """A JSON Schema (tool parameters or response format) cleaned for Gemini."""
    if not isinstance(schema, dict):
        return {}
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            defs.update({f"#/{key}/{name}": value for name, value in schema[key].items()})
    return _clean(schema, defs, (), 0)


def _resolve(node: dict[str, Any], defs: dict[str, Any],
             seen: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
    while "$ref" in node:
        ref = node["$ref"]
        target = defs.get(ref) if isinstance(ref, str) else None
        if target is None or ref in seen:
            log.debug("gemini schema: cannot inline $ref %r (unknown or recursive); using an object", ref)
            return {"type": "object", "description": node.get("description") or ""}, seen
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        node, seen = merged, (*seen, ref)
    return node, seen


def _clean(node: Any, defs: dict[str, Any], seen: tuple[str, ...], depth: int) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    if depth > _MAX_DEPTH:
        log.debug("gemini schema: nesting deeper than %d levels cut to an object", _MAX_DEPTH)
        return {"type": "object"}
    node, seen = _resolve(node, defs, seen)
    node = _merge_all_of(node)
    out: dict[str, Any] = {}
    union = node.get("anyOf") or node.get("oneOf")
    if isinstance(union, list):
        options = [o for o in union if not (isinstance(o, dict) and o.get("type") == "null")]
        if len(options) < len(union):
            out["nullable"] = True
        if len(options) == 1:
            inner = _clean(options[0], defs, seen, depth + 1)
            inner.update({k: v for k, v in out.items()})
            for key in ("description", "title"):
                if isinstance(node.get(key), str) and key not in inner:
                    inner[key] = node[key]
            return inner
        out["anyOf"] = [_clean(o, defs, seen, depth + 1) for o in options]
    kind = node.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) < len(kind):
            out["nullable"] = True
        if len(kinds) == 1:
            kind = kinds[0]
        elif kinds:
            out["anyOf"] = [_clean({**node, "type": k}, defs, seen, depth + 1) for k in kinds]
            kind = None
        else:
            kind = None
    if isinstance(kind, str):
        out["type"] = kind.lower()
    elif "properties" in node and "anyOf" not in out:
        out["type"] = "object"
    if "const" in node:
        node = {**node, "enum": [node["const"]]}
    for key, value in node.items():
        if key in ("type", "anyOf", "oneOf", "allOf", "const", "$defs", "definitions", "nullable"):
            if key == "nullable" and value is True:
                out["nullable"] = True
            continue
        if key not in _KEEP:
            log.debug("gemini schema: dropping unsupported keyword %r", key)
            continue
        if key == "properties" and isinstance(value, dict):
            out["properties"] = {name: _clean(sub, defs, seen, depth + 1) for name, sub in value.items()}
        elif key == "items":
            out["items"] = _clean(value, defs, seen, depth + 1) if isinstance(value, dict) else {}
        elif key == "enum":
            _enum(out, value)
        elif key == "format":
            if value in _FORMATS.get(str(out.get("type")), ()):
                out["format"] = value
            else:
                log.debug("gemini schema: dropping unsupported format %r", value)
        else:
            out[key] = value
    if isinstance(out.get("required"), list):
        props = out.get("properties") or {}
        out["required"] = [name for name in out["required"] if name in props]
        if not out["required"]:
            del out["required"]
    return out


def _enum(out: dict[str, Any], values: Any) -> None:
    if not isinstance(values, list) or not values:
        return
    if all(isinstance(v, str) for v in values):
        out["enum"] = values
        out.setdefault("type", "string")
    else:
        log.debug("gemini schema: dropping a non-string enum (Gemini only has string enums)")


def _merge_all_of(node: dict[str, Any]) -> dict[str, Any]:
    parts = node.get("allOf")
    if not isinstance(parts, list):
        return node
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
    for part in parts:
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged


# Gemini's `format` values that are no JSON Schema format (OpenAI's and Anthropic's strict modes
# refuse them): dropped when a Gemini schema goes to another family.
_GEMINI_ONLY_FORMATS = frozenset({"enum", "int32", "int64", "float", "double"})


def from_gemini(schema: Any) -> dict[str, Any]:
    """A Gemini Schema (upper-case types, `nullable`, `propertyOrdering`, snake_case keys,
    numeric formats) -> plain JSON Schema for other providers."""
    if not isinstance(schema, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out["type"] = value.lower()
        elif key in ("properties",) and isinstance(value, dict):
            out[key] = {name: from_gemini(sub) for name, sub in value.items()}
        elif key == "items" and isinstance(value, dict):
            out[key] = from_gemini(value)
        elif key in ("anyOf", "any_of") and isinstance(value, list):
            out["anyOf"] = [from_gemini(sub) for sub in value]
        elif key in ("nullable", "propertyOrdering", "property_ordering"):
            continue
        elif key == "format" and value in _GEMINI_ONLY_FORMATS:
            continue
        else:
            out[_camel(key)] = value
    if schema.get("nullable") is True:
        _allow_null(out)
    return out


def _allow_null(out: dict[str, Any]) -> None:
    """OpenAPI's `nullable: true` in JSON Schema: `null` joins the type (or the anyOf)."""
    kind = out.get("type")
    if isinstance(kind, str) and kind != "null":
        out["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        out["type"] = [*kind, "null"]
    elif kind is None and isinstance(out.get("anyOf"), list):
        if not any(isinstance(o, dict) and o.get("type") == "null" for o in out["anyOf"]):
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    if isinstance(out.get("enum"), list) and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]


def _camel(key: str) -> str:
    """Snake-case keys a Gemini client may send (min_items) -> the JSON Schema spelling (minItems)."""
    if "_" not in key:
        return key
    head, *rest = key.split("_")
    return head + "".join(word.capitalize() for word in rest)


_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SUBSCHEMAS = ("items", "anyOf", "oneOf", "allOf", "not", "additionalProperties", "prefixItems")


def lower_types(schema: Any) -> Any:
    """A JSON Schema as Gemini clients write it (`parametersJsonSchema`, `responseJsonSchema`)
    made valid for OpenAI and Anthropic: Gemini's upper-case type names (`OBJECT`, `STRING`, as
    Gemini CLI sends) lower-cased, OpenAPI's `nullable: true` turned into a `null` type,
    `propertyOrdering` and Gemini-only formats (`int32`, `enum`...) dropped; everything else kept."""
    if isinstance(schema, list):
        return [lower_types(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key == "type" and isinstance(value, list):
            out[key] = [v.lower() if isinstance(v, str) else v for v in value]
        elif key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: lower_types(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMAS:
            out[key] = lower_types(value)
        elif key in ("nullable", "propertyOrdering"):
            continue
        elif key == "format" and value in _GEMINI_ONLY_FORMATS:
            continue
        else:
            out[key] = value
    if schema.get("nullable") is True:
        _allow_null(out)
    return out
