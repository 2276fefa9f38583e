"""Load the router's fitted difficulty parameters (JSON written by scripts/train_router.py)."""

from __future__ import annotations

import json
from pathlib import Path

from domain.difficulty import DifficultyEstimator

DEFAULT_PARAMS_PATH = Path(__file__).resolve().with_name("difficulty_params.json")


def load_estimator(path: Path | None = None) -> DifficultyEstimator:
    """Read the params file (default: the one shipped next to this module) into an estimator.

    Raises `FileNotFoundError` if the file is missing and `ValueError` if it is not valid
    params for this code's feature version.
    """
    target = Path(path) if path is not None else DEFAULT_PARAMS_PATH
    try:
        params = json.loads(target.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"difficulty params {target}: not valid JSON ({exc})") from exc
    if not isinstance(params, dict):
        raise ValueError(f"difficulty params {target}: expected a JSON object")
    return DifficultyEstimator.from_params(params)
