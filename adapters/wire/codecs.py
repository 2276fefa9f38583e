"""Every client-facing API family's codec, by family (domain.chat.Family)."""

from __future__ import annotations

from adapters.wire.anthropic import CODEC as ANTHROPIC
from adapters.wire.codec import Codec
from adapters.wire.gemini import CODEC as GEMINI
from adapters.wire.openai import CODEC as OPENAI
from domain.chat import Family

CODECS: dict[Family, Codec] = {"openai": OPENAI, "anthropic": ANTHROPIC, "gemini": GEMINI}
