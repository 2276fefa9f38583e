"""domain.routing_text: the text the router judges is the user's task, never an agent's boilerplate."""

from __future__ import annotations

from domain.chat import ChatRequest, ImagePart, Message, TextPart, Tool, ToolCall
from domain.routing_text import (
    AGENT_SYSTEM_CHARS,
    CONTEXT_CHARS,
    request_tokens,
    routing_view,
    strip_boilerplate,
)

REMINDER = "<system-reminder>\nAs you answer, use this context: # claudeMd\nUse tabs.\n</system-reminder>\n"
CODEX_AGENTS = ("# AGENTS.md instructions for /home/u/work\n\n<INSTRUCTIONS>\nRun make test.\n\n"
                "</INSTRUCTIONS>")
CODEX_ENV = "<environment_context>\n  <cwd>/home/u/work</cwd>\n  <shell>bash</shell>\n</environment_context>"
GEMINI_SESSION = ("<session_context>\nThis is the Gemini CLI.\n<loaded_context>\n<project_context>\nUse tabs.\n"
                  "</project_context>\n</loaded_context>\n</session_context>")


def user(*texts: str) -> Message:
    return Message(role="user", content=[TextPart(text=t) for t in texts])


def assistant(text: str = "", calls: list[ToolCall] | None = None) -> Message:
    return Message(role="assistant", content=[TextPart(text=text)] if text else [], tool_calls=calls or [])


def tool_result(text: str) -> Message:
    return Message(role="tool", content=[TextPart(text=text)], tool_call_id="call_1")


def request(*messages: Message, system: str = "", tools: int = 0) -> ChatRequest:
    return ChatRequest(model="auto", messages=list(messages), system=[TextPart(text=system)] if system else [],
                       tools=[Tool(name=f"t{i}", description="a tool", parameters={"type": "object"})
                              for i in range(tools)])


def test_plain_text_is_kept_as_it_is() -> None:
    assert strip_boilerplate("  What is 2+2?\n") == ("What is 2+2?", False)


def test_each_agents_blocks_are_removed() -> None:
    assert strip_boilerplate(REMINDER + "Rename x to y") == ("Rename x to y", True)
    assert strip_boilerplate(CODEX_AGENTS) == ("", True)
    assert strip_boilerplate(CODEX_ENV) == ("", True)
    assert strip_boilerplate(GEMINI_SESSION) == ("", True)
    assert strip_boilerplate('<permissions instructions mode="x">sandboxed</permissions instructions>') == ("", True)
    assert strip_boilerplate("This is the Gemini CLI. We are setting up the context for our chat.\nToday...") \
        == ("", True)


def test_a_block_in_the_middle_of_the_users_text_is_cut_out() -> None:
    text = f"Fix the bug{REMINDER.strip()} in parse()"
    assert strip_boilerplate(text) == ("Fix the bug in parse()", True)


def test_slash_command_arguments_are_the_users_words() -> None:
    text = ("<command-name>/review</command-name>\n<command-message>review</command-message>\n"
            "<command-args>the lock-free queue</command-args>")
    assert strip_boilerplate(text) == ("the lock-free queue", True)


def test_the_users_own_markup_stays() -> None:
    text = "Why does <div class='x'>a</div> not wrap? And what is <T> in fn<T>()?"
    assert strip_boilerplate(text) == (text, False)


def test_an_unclosed_block_is_not_guessed_at() -> None:
    text = "<system-reminder> is the tag my tool prints; how do I parse it?"
    assert strip_boilerplate(text) == (text, False)


def test_the_system_prompt_and_tools_are_never_the_text() -> None:
    view = routing_view(request(user("What is 2+2?"), system="You are a coding agent. " * 200, tools=12))
    assert view.text == "What is 2+2?"
    assert (view.agentic, view.has_tools, view.turns) == (True, True, 1)


def test_claude_code_reminders_beside_the_users_text() -> None:
    view = routing_view(request(user(REMINDER, "Rename variable x to y"), tools=3))
    assert view.text == "Rename variable x to y"
    assert view.agentic


def test_codex_context_messages_are_not_turns() -> None:
    view = routing_view(request(user(CODEX_AGENTS), user(CODEX_ENV), user("What is 2+2?"), tools=9))
    assert (view.text, view.turns, view.agentic) == ("What is 2+2?", 1, True)


def test_gemini_session_context_message_is_skipped() -> None:
    view = routing_view(request(user(GEMINI_SESSION), user("What is 2+2?"), tools=20))
    assert (view.text, view.turns, view.agentic) == ("What is 2+2?", 1, True)


def test_mid_loop_the_task_is_the_latest_real_user_text() -> None:
    call = ToolCall(id="call_1", name="Bash", arguments='{"command": "ls"}')
    conversation = request(user(REMINDER, "Design a lock-free hash map"), assistant(calls=[call]),
                           tool_result("a.c b.c"), user(REMINDER), tools=3)
    view = routing_view(conversation)
    assert view.text == "Design a lock-free hash map"
    assert view.has_tools and view.turns == 1


def test_earlier_turns_give_a_bounded_context_before_the_latest() -> None:
    earlier = "word " * 1000
    view = routing_view(request(user("First question about B-trees"), assistant("..."), user(earlier),
                                assistant("..."), user("And now the deletion case?")))
    context, _, latest = view.text.rpartition("\n\n")
    assert latest == "And now the deletion case?"
    assert 0 < len(context) <= CONTEXT_CHARS
    assert "B-trees" not in context  # the nearest turns come first, the window ends there
    assert view.turns == 3


def test_a_short_history_is_all_context() -> None:
    view = routing_view(request(user("Explain B-trees"), assistant("A B-tree is..."), user("Why that order?")))
    assert view.text == "Explain B-trees\n\nWhy that order?"  # assistant turns are not context


def test_no_context_when_asked_for_none() -> None:
    view = routing_view(request(user("Explain B-trees"), user("Why?")), context_chars=0)
    assert view.text == "Why?"


def test_agentic_needs_boilerplate_or_a_long_system_prompt_with_tools() -> None:
    assert not routing_view(request(user("hi"), system="x" * AGENT_SYSTEM_CHARS)).agentic  # no tools
    assert not routing_view(request(user("hi"), system="Be brief.", tools=2)).agentic
    assert routing_view(request(user("hi"), system="x" * AGENT_SYSTEM_CHARS, tools=2)).agentic
    assert not routing_view(request(user("hi"))).has_tools


def test_only_boilerplate_leaves_nothing_to_judge() -> None:
    assert routing_view(request(user(REMINDER), tools=2)).text == ""


def test_a_prompt_sent_only_as_system_text_is_still_judged() -> None:
    assert routing_view(request(system="Translate 'cat' to French.")).text == "Translate 'cat' to French."


def test_images_only_turn_falls_back_to_earlier_text() -> None:
    picture = Message(role="user", content=[ImagePart(url="https://example.com/a.png")])
    assert routing_view(request(user("Describe the next image"), picture)).text == "Describe the next image"


def test_request_tokens_count_the_whole_request() -> None:
    small = request(user("What is 2+2?"))
    big = request(user(REMINDER, "What is 2+2?"), system="s" * 40_000, tools=30)
    assert request_tokens(small) == (len("What is 2+2?") + 3) // 4
    assert request_tokens(big) > 10_000  # the system prompt alone is 10k tokens
    call = ToolCall(id="c", name="Write", arguments='{"text": "' + "z" * 4000 + '"}')
    assert request_tokens(request(user("go"), assistant(calls=[call]), tool_result("ok"))) > 1000
