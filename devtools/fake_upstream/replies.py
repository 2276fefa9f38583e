"""Deterministic reply, usage and tool-call logic shared by every wire format.

Each format module reduces its request to a :class:`Prompt`; :func:`build_reply`
turns that (plus the in-prompt directives) into a :class:`Reply`, which the
format module then renders in its own wire shape.  See the package docstring
for the rules in prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

DIRECTIVE_RE = re.compile(r"\[\[fake:([a-z_]+)(?:=([^\]]*))?\]\]")
DIRECTIVE_MARK = "[[fake:"
REPLY_PREFIX = "Fake reply to: "
TOOL_RESULT_PREFIX = "Tool result received: "
THINKING_TEXT = "Let me think about this step by step."
THINKING_SIGNATURE = "ZmFrZS1zaWduYXR1cmU="
ECHO_CHARS = 200
FRAGMENT_CHARS = 8

Directives = dict[str, str]


@dataclass(slots=True)
class Tool:
    """A callable function offered by the request: its name and JSON schema."""

    name: str
    schema: dict[str, Any]


@dataclass(slots=True)
class Prompt:
    """A request reduced to what the fake needs, independent of wire format.

    ``tool_choice`` is one of ``auto``, ``none``, ``required`` or ``forced``
    (then ``forced_tool`` names the tool).  ``tool_result`` is set when the
    conversation ends with tool results; ``last_is_user`` is false when it ends
    with an assistant/model turn.
    """

    model: str
    input_words: int = 0
    user_text: str = ""
    tool_result: str | None = None
    last_is_user: bool = True
    tools: list[Tool] = field(default_factory=list)
    tool_choice: str = "auto"
    forced_tool: str | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False
    thinking: bool = False
    seen_tool_result: bool = False  # any tool result anywhere in the conversation
    json_mode: bool = False  # JSON asked for (a schema, or JSON mode without one)
    json_schema: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolPlan:
    """A scripted agent turn (``POST /_fake/tools``): while set, the only tool ever called is
    ``call_name`` (with ``call_args``), on a request that offers it, ends with a user turn and
    holds no tool result yet; a request that holds a tool result (every request, when no call
    is planned) is answered ``answer`` when given.  No other tool is called, so side requests
    of an agent get plain text."""

    call_name: str | None = None
    call_args: dict[str, Any] = field(default_factory=dict)
    answer: str | None = None

    @classmethod
    def from_json(cls, body: Any) -> ToolPlan | None:
        if not isinstance(body, dict):
            return None
        call = body.get("call")
        answer = body.get("answer")
        plan = cls(answer=answer if isinstance(answer, str) else None)
        if isinstance(call, dict) and isinstance(call.get("name"), str):
            plan.call_name = call["name"]
            plan.call_args = call["arguments"] if isinstance(call.get("arguments"), dict) else {}
        return plan


@dataclass(slots=True)
class ToolCall:
    """One tool call of a reply; ``index`` starts at 1 and is used in ids."""

    index: int
    name: str
    args: dict[str, Any]
    args_json: str


@dataclass(slots=True)
class Reply:
    """The format-independent reply.

    ``finish`` is one of ``stop``, ``length``, ``tool``, ``stop_sequence`` or
    ``refusal``.  ``input_tokens`` is the uncached input, ``output_tokens``
    the visible output; cached and reasoning tokens are reported separately
    and each format adds them into its totals the way the real API does.
    """

    text: str
    tool_calls: list[ToolCall]
    finish: str
    stop_sequence: str | None
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int
    thinking: str | None


def clean_text(text: str) -> str:
    """Remove directives and collapse all whitespace runs to single spaces."""
    if DIRECTIVE_MARK in text:
        text = DIRECTIVE_RE.sub(" ", text)
    return " ".join(text.split())


def count_words(text: str) -> int:
    """Whitespace-separated words of ``text`` with directives removed."""
    if DIRECTIVE_MARK in text:
        text = DIRECTIVE_RE.sub(" ", text)
    return len(text.split())


def parse_directives(text: str) -> Directives:
    """Collect ``[[fake:key=value]]`` / ``[[fake:key]]`` directives from ``text``."""
    if DIRECTIVE_MARK not in text:
        return {}
    return {key: value or "" for key, value in DIRECTIVE_RE.findall(text)}


def directive_int(directives: Directives, key: str) -> int | None:
    """The integer value of directive ``key``, or None if absent or malformed."""
    value = directives.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def example_value(schema: Any) -> Any:
    """A placeholder value for a JSON-schema node (enum first value, else by type)."""
    if not isinstance(schema, dict):
        return "example"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "string")
    if kind is None:
        for key in ("anyOf", "oneOf", "any_of"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                return example_value(options[0])
        kind = "object" if "properties" in schema else "string"
    return _TYPE_EXAMPLES.get(str(kind).lower(), "example")


_TYPE_EXAMPLES: dict[str, Any] = {
    "string": "example",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "array": [],
    "object": {},
    "null": None,
}


def example_args(schema: Any) -> dict[str, Any]:
    """Arguments for a tool: every required property (all if none required)."""
    if not isinstance(schema, dict):
        return {}
    props = schema.get("properties")
    if not isinstance(props, dict):
        props = {}
    required = schema.get("required")
    names = required if isinstance(required, list) and required else list(props)
    return {name: example_value(props.get(name)) for name in names}


def _planned_call(prompt: Prompt, plan: ToolPlan) -> list[ToolCall]:
    if plan.call_name is None or prompt.seen_tool_result or not prompt.last_is_user:
        return []
    if not any(tool.name == plan.call_name for tool in prompt.tools):
        return []
    return [ToolCall(1, plan.call_name, plan.call_args, orjson.dumps(plan.call_args).decode())]


JSON_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})


class InvalidSchema(ValueError):
    """A JSON Schema that the real OpenAI and Anthropic APIs refuse (the fake answers 400)."""


def check_schema(schema: Any, where: str) -> None:
    """Refuse type names JSON Schema does not have (e.g. Gemini's upper-case ``OBJECT``)."""
    if isinstance(schema, list):
        for item in schema:
            check_schema(item, where)
        return
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    for name in kind if isinstance(kind, list) else [kind] if kind is not None else []:
        if name not in JSON_TYPES:
            raise InvalidSchema(f"Invalid schema for {where}: {name!r} is not a JSON Schema type")
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            for sub in value.values():
                check_schema(sub, where)
        elif key in ("items", "anyOf", "oneOf", "allOf", "not", "additionalProperties", "prefixItems"):
            check_schema(value, where)


def json_answer(prompt: Prompt, text: str) -> str:
    """The reply as JSON: an example of the schema (every property), or ``{"reply": text}``."""
    schema = prompt.json_schema
    if schema is None:
        return orjson.dumps({"reply": text}).decode()
    return orjson.dumps(example_document(schema)).decode()


def example_document(schema: Any, depth: int = 0) -> Any:
    """A value valid for a simple JSON schema: objects get every property, arrays one item."""
    if not isinstance(schema, dict) or depth > 8:
        return "example"
    kind = schema.get("type")
    kind = str(kind[0] if isinstance(kind, list) and kind else kind or "").lower()
    props = schema.get("properties")
    if kind == "object" or (not kind and isinstance(props, dict)):
        props = props if isinstance(props, dict) else {}
        return {name: example_document(sub, depth + 1) for name, sub in props.items()}
    if kind == "array":
        return [example_document(schema.get("items"), depth + 1)]
    return example_value(schema)


def _pick_tools(prompt: Prompt, directives: Directives) -> list[Tool]:
    if not prompt.tools or prompt.tool_choice == "none":
        return []
    if prompt.tool_result is not None or not prompt.last_is_user:
        return []
    if "refuse" in directives or directives.get("finish") == "length":
        return []
    if directives.get("tools") == "parallel":
        return list(prompt.tools)
    if prompt.tool_choice == "forced" and prompt.forced_tool:
        for tool in prompt.tools:
            if tool.name == prompt.forced_tool:
                return [tool]
    return [prompt.tools[0]]


def _apply_stop(text: str, stops: list[str]) -> tuple[str, str | None]:
    best: tuple[int, str] | None = None
    for stop in stops:
        if stop:
            pos = text.find(stop)
            if pos >= 0 and (best is None or pos < best[0]):
                best = (pos, stop)
    if best is None:
        return text, None
    return " ".join(text[: best[0]].split()), best[1]


def build_reply(prompt: Prompt, directives: Directives, plan: ToolPlan | None = None) -> Reply:
    """Compute the deterministic reply for ``prompt`` under ``directives`` (and a tool plan)."""
    cached = max(0, directive_int(directives, "cached_tokens") or 0)
    reasoning = directive_int(directives, "reasoning_tokens")
    thinking = THINKING_TEXT if prompt.thinking else None
    if reasoning is None:
        reasoning = count_words(thinking) if thinking else 0
    reasoning = max(0, reasoning)
    input_tokens = max(1, prompt.input_words)

    tool_calls: list[ToolCall] = []
    stop_sequence: str | None = None
    if "refuse" in directives:
        text, finish = "", "refusal"
    elif plan is not None and (planned := _planned_call(prompt, plan)):
        text, finish, tool_calls = "", "tool", planned
    elif plan is None and (tools := _pick_tools(prompt, directives)):
        text, finish = "", "tool"
        for n, tool in enumerate(tools, start=1):
            args = example_args(tool.schema)
            tool_calls.append(ToolCall(n, tool.name, args, orjson.dumps(args).decode()))
    else:
        if plan is not None and plan.answer is not None and (plan.call_name is None or prompt.seen_tool_result):
            text = plan.answer
        elif prompt.tool_result is not None:
            echo = clean_text(prompt.tool_result)[:ECHO_CHARS].rstrip()
            text = f"{TOOL_RESULT_PREFIX}{echo}" if echo else TOOL_RESULT_PREFIX.rstrip()
        else:
            echo = clean_text(prompt.user_text)[:ECHO_CHARS].rstrip()
            text = f"{REPLY_PREFIX}{echo}" if echo else REPLY_PREFIX.rstrip()
        finish = "stop"
        if prompt.json_mode:
            text = json_answer(prompt, text)
        text, stop_sequence = _apply_stop(text, prompt.stop)
        if stop_sequence is not None:
            finish = "stop_sequence"
        words = text.split(" ") if text else []
        if prompt.max_tokens is not None and 0 < prompt.max_tokens < len(words):
            text = " ".join(words[: prompt.max_tokens])
            finish, stop_sequence = "length", None
        if directives.get("finish") == "length":
            finish, stop_sequence = "length", None

    output = len(text.split()) + sum(len(call.args_json) // 4 for call in tool_calls)
    return Reply(
        text=text,
        tool_calls=tool_calls,
        finish=finish,
        stop_sequence=stop_sequence,
        input_tokens=input_tokens,
        cached_tokens=cached,
        output_tokens=max(1, output),
        reasoning_tokens=reasoning,
        thinking=thinking,
    )


def text_chunks(text: str) -> list[str]:
    """Split ``text`` into one chunk per word; the chunks concatenate to ``text``."""
    if not text:
        return []
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + [words[-1]]


def json_fragments(data: str) -> list[str]:
    """Split a JSON string into fragments of ~8 characters (at least one)."""
    if not data:
        return [""]
    return [data[i : i + FRAGMENT_CHARS] for i in range(0, len(data), FRAGMENT_CHARS)]


def as_text(value: Any) -> str:
    """Best-effort text of a tool-result payload: string as is, else compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()
