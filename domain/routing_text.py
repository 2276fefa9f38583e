"""What the router judges in a conversation: the task, not the agent's boilerplate.

Coding agents (Claude Code, Codex, Gemini CLI) send a long system prompt, tool schemas and
injected context blocks with every turn. Scored as one text, every such request looks hard. So
`routing_view(request)` picks the text to score:

1. The latest *real* user turn: a user message whose own text is left after removing injected
   blocks (`strip_boilerplate`). Tool results (role "tool": Anthropic `tool_result` blocks,
   Responses `function_call_output`, Gemini `functionResponse`) are never user text. When an
   agent is mid-loop and the last user message holds only tool results or reminders, the most
   recent real user text is used, so every step of one task is judged by that task.
2. Before it, at most `CONTEXT_CHARS` characters of the preceding real user turns (their end,
   the nearest turn last), separated from the latest turn by a blank line, so the estimator's
   question part is still the latest turn.

System prompts, developer messages, tool definitions and assistant turns are never part of the
text. They count only as features: `agentic` (an agent's injected blocks were found, or the
request has tools and a system prompt of at least `AGENT_SYSTEM_CHARS` characters) and
`has_tools` (the request offers tools or carries tool calls or results).

A request without any user text is judged on the empty text when it is agentic (nothing but an
agent's boilerplate), otherwise on its last user message as sent or, without one, its system
text, so a prompt sent only as a system message is still judged.

Injected blocks, as the agents send them (recorded in tests/fixtures/agent_requests):
- Claude Code: `<system-reminder>…</system-reminder>` (CLAUDE.md, attribution, todo and hook
  reminders), `<command-name>`, `<command-message>`, `<local-command-stdout|stderr|caveat>`,
  `<bash-stdout|stderr>`, `<task-notification>`, `<user-prompt-submit-hook>`; the arguments of
  a slash command (`<command-args>`) are the user's words and are kept, without the tags.
- Codex: `# AGENTS.md instructions for <dir>` followed by `<INSTRUCTIONS>…</INSTRUCTIONS>`,
  `<environment_context>`, `<user_instructions>`, `<turn_aborted>`, `<user_shell_command>`,
  `<subagent_notification>` and the developer-message blocks (`<permissions instructions>`,
  `<skills_instructions>`, `<collaboration_mode>`, …) should they appear in a user turn.
- Gemini CLI: `<session_context>` (date, OS, directory listing, `<loaded_context>` with
  GEMINI.md), `<project_context>`, `<global_context>`, `<extension_context>`, `<hook_context>`,
  and older versions' preamble message starting "This is the Gemini CLI. We are setting up the
  context for our chat."
Only these names are removed: a user's own markup (`<div>`, `<T>`) stays.

`request_tokens(request)` is the estimate for the context-window check, over the WHOLE request
(system, every message, tool calls and tool definitions), never over the routing text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from domain.chat import ChatRequest, Message, TextPart

__all__ = ["AGENT_SYSTEM_CHARS", "CONTEXT_CHARS", "RoutingView", "request_tokens", "routing_view",
           "strip_boilerplate"]

CONTEXT_CHARS = 600  # of earlier user turns placed before the latest one
AGENT_SYSTEM_CHARS = 2000  # a system prompt this long, with tools, marks an agent

_BLOCK_TAGS = (
    # Claude Code
    "system-reminder", "command-name", "command-message", "local-command-stdout", "local-command-stderr",
    "local-command-caveat", "bash-stdout", "bash-stderr", "task-notification", "user-prompt-submit-hook",
    # Codex
    "environment_context", "user_instructions", "turn_aborted", "user_shell_command", "subagent_notification",
    "permissions instructions", "skills_instructions", "apps_instructions", "plugins_instructions",
    "collaboration_mode", "model_switch", "personality_spec", "context_window_reminder", "current_time_reminder",
    "startup_context", "codex_internal_context", "agent_message_board_notification",
    # Gemini CLI
    "session_context", "loaded_context", "project_context", "global_context", "extension_context", "hook_context",
)
_BLOCK = re.compile(
    r"<(" + "|".join(re.escape(t) for t in _BLOCK_TAGS) + r")(?:\s[^<>]*)?>.*?</\1\s*>", re.DOTALL)
_AGENTS_MD = re.compile(r"#\s*AGENTS\.md instructions for [^\n]*\n+\s*<INSTRUCTIONS>.*?</INSTRUCTIONS>",
                        re.DOTALL)
_UNWRAP = re.compile(r"</?command-args\s*>")
_GEMINI_PREAMBLE = "This is the Gemini CLI. We are setting up the context for our chat."


@dataclass(frozen=True, slots=True)
class RoutingView:
    text: str  # what the difficulty estimator scores
    turns: int  # real user turns in the conversation (at least 1)
    agentic: bool
    has_tools: bool


def strip_boilerplate(text: str) -> tuple[str, bool]:
    """`text` without the agents' injected blocks (module doc), whitespace-trimmed; and whether
    any block was found."""
    if text.lstrip().startswith(_GEMINI_PREAMBLE):
        return "", True
    if "<" not in text:
        return text.strip(), False
    kept, n_blocks = _BLOCK.subn("", text)
    kept, n_agents = _AGENTS_MD.subn("", kept)
    kept, n_args = _UNWRAP.subn("", kept)
    return kept.strip(), bool(n_blocks or n_agents or n_args)


def _user_text(message: Message) -> tuple[str, bool]:
    texts: list[str] = []
    found = False
    for part in message.content:
        if isinstance(part, TextPart):
            kept, hit = strip_boilerplate(part.text)
            found = found or hit
            if kept:
                texts.append(kept)
    return "\n".join(texts), found


def _context(earlier: list[str], limit: int) -> str:
    """The last `limit` characters of the earlier turns, cut at a word where one is near."""
    if limit <= 0 or not earlier:
        return ""
    joined = "\n\n".join(earlier)
    if len(joined) <= limit:
        return joined
    tail = joined[-limit:]
    space = tail.find(" ")
    return tail[space + 1:] if 0 <= space < 40 else tail


def routing_view(request: ChatRequest, context_chars: int = CONTEXT_CHARS) -> RoutingView:
    """The text to score and the routing features of a request (module doc)."""
    real: list[str] = []
    injected = False
    for message in request.messages:
        if message.role != "user":
            continue
        text, found = _user_text(message)
        injected = injected or found
        if text:
            real.append(text)
    system_chars = sum(len(p.text) for p in request.system)
    agentic = injected or (bool(request.tools) and system_chars >= AGENT_SYSTEM_CHARS)
    has_tools = bool(request.tools) or any(m.role == "tool" or m.tool_calls for m in request.messages)
    if real:
        context = _context(real[:-1], context_chars)
        text = f"{context}\n\n{real[-1]}" if context else real[-1]
    elif agentic:
        text = ""  # only an agent's boilerplate: nothing of the user's to judge
    else:
        text = request.last_user_text() or "\n".join(p.text for p in request.system if p.text)
    return RoutingView(text=text, turns=max(1, len(real)), agentic=agentic, has_tools=has_tools)


def request_tokens(request: ChatRequest) -> int:
    """About four characters a token, over the whole request: system, messages (tool results
    included), tool calls' arguments and the tool definitions."""
    chars = sum(len(p.text) for p in request.system)
    for m in request.messages:
        chars += len(m.text()) + sum(len(c.name) + len(c.arguments) for c in m.tool_calls)
    for tool in request.tools:
        chars += len(tool.name) + len(tool.description or "")
        if tool.parameters:
            chars += len(json.dumps(tool.parameters, separators=(",", ":"), ensure_ascii=False))
    return (chars + 3) // 4
