"""Counting a request's input tokens with the provider that would serve it."""

from __future__ import annotations

from application.chat import ChatCall, ChatService


async def count_input_tokens(chat: ChatService, call: ChatCall) -> int:
    """Input tokens of `call` as its selected provider counts them."""
    return await chat.count_tokens(call)
