"""Reasoning effort (OpenAI, Anthropic `output_config.effort`, Gemini `thinkingLevel`) <-> thinking
budget in tokens (Anthropic `thinking.budget_tokens`, Gemini `thinkingBudget`).

One table in one place so every direction agrees. The budgets follow the providers' own guidance:
Anthropic's minimum budget is 1024 tokens; Gemini 2.5 Flash accepts up to 24576.
"""

from __future__ import annotations

from typing import Any

from domain.chat import ReasoningEffort

BUDGET_FOR_EFFORT: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
ANTHROPIC_MIN_BUDGET = 1024


def budget_for_effort(effort: str | None) -> int | None:
    return BUDGET_FOR_EFFORT.get(effort) if effort else None


def effort_for_budget(budget: int | None) -> ReasoningEffort | None:
    """The nearest effort for a budget; None for no budget or a disabled one (0)."""
    if budget is None or budget <= 0:
        return None
    if budget <= BUDGET_FOR_EFFORT["low"]:
        return "low"
    if budget <= BUDGET_FOR_EFFORT["medium"]:
        return "medium"
    return "high"


def effort_from_level(level: Any) -> ReasoningEffort | None:
    """Anthropic effort (low..max) or Gemini thinkingLevel (LOW/MEDIUM/HIGH/MINIMAL) -> effort."""
    if not isinstance(level, str):
        return None
    value = level.lower()
    if value in ("minimal", "low", "medium", "high"):
        return value  # type: ignore[return-value]
    if value in ("xhigh", "max"):
        return "high"
    return None


def thinking_budget(request_budget: int | None, effort: str | None) -> int | None:
    """The budget a request asks for: an explicit budget wins over one derived from effort."""
    if request_budget is not None:
        return request_budget
    return budget_for_effort(effort)
