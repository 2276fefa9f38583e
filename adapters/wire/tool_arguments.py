"""Tool-call arguments as the object Anthropic (`input`) and Gemini (`args`) require.

The domain keeps arguments as the JSON text the model produced (OpenAI's form); the two other
families need an object. Text that is not JSON becomes {}; a JSON value that is not an object
is wrapped as {"value": ...}.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

log = logging.getLogger(__name__)


def arguments_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        log.debug("tool call arguments are not JSON; sending them as {}")
        return {}
    return value if isinstance(value, dict) else {"value": value}
