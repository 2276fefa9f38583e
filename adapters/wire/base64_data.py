"""Inline bytes in the alphabet each family takes.

google-genai serialises `bytes` as URL-safe base64 (`-` and `_`, sometimes unpadded), which
Gemini accepts; OpenAI data URLs and Anthropic `source.data` take only standard base64 (`+`, `/`,
padded). Re-encoding is a character swap plus padding, so it costs nothing on standard input.
"""

from __future__ import annotations

_URL_SAFE = str.maketrans("-_", "+/")


def standard_base64(data: str) -> str:
    """`data` in the standard base64 alphabet, padded (already-standard data comes back unchanged)."""
    data = data.strip().translate(_URL_SAFE)
    return data + "=" * (-len(data) % 4)
