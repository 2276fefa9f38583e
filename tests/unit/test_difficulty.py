"""The difficulty estimator: features, params round trip, scoring, and the shipped model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.routing import DEFAULT_PARAMS_PATH, load_estimator
from domain.difficulty import FEATURE_VERSION, DifficultyEstimator, LinearHead, extract_features


def tiny_params() -> dict[str, Any]:
    """Two families; 'solve'/digits push towards math and up, 'poem' towards open and down."""
    return {
        "feature_version": FEATURE_VERSION,
        "families": ["math", "open"],
        "gate": [
            {"bias": 0.0, "weights": {"w:solve": 4.0, "nums:3": 2.0, "nums:4": 2.0}},
            {"bias": 0.5, "weights": {"w:poem": 3.0}},
        ],
        "experts": [
            {"bias": 0.5, "weights": {"w:prove": 3.0, "logqty": 2.0}},
            {"bias": -1.0, "weights": {"w:poem": -1.0}},
        ],
        "shared": {"bias": 0.0, "weights": {"loglen": 0.5}},
        "reference": 0.4,
        "meta": {"note": "unit test"},
    }


def test_features_are_deterministic_and_named() -> None:
    f1 = extract_features("Solve 3x + 7 = 22 for x.")
    f2 = extract_features("Solve 3x + 7 = 22 for x.")
    assert f1 == f2
    assert "w:solve" in f1 and "t:solve" in f1
    assert "w:solve #1" in f1  # numbers collapse to a digit-count class
    assert f1["turns:1"] == 1.0
    assert extract_features("x", turns=3)["turns:3"] == 1.0
    assert extract_features("")["len:0"] == 1.0


def test_few_shot_prompt_is_measured_on_its_last_question() -> None:
    shots = "\n\n".join(f"Question {i}: what is {i} + {i}?\nAnswer: {2 * i}" for i in range(40))
    prompt = shots + "\n\nWhich planet is largest?\nA) Mars\nB) Jupiter\nAnswer:"
    f = extract_features(prompt)
    assert f["len:1"] == 1.0  # the question part is short although the prompt is long
    assert f["mc:2"] == 1.0
    assert "t:jupiter" in f and "t:question" not in f


def test_long_prompt_features_are_bounded() -> None:
    f = extract_features("lorem ipsum dolor " * 50_000)
    assert len(f) < 200


def test_params_round_trip_and_scores_in_range() -> None:
    est = DifficultyEstimator.from_params(tiny_params())
    again = DifficultyEstimator.from_params(json.loads(json.dumps(est.to_params())))
    for prompt in ("Write a poem about the sea.", "Solve 12 * 7 - 5 and prove it is odd.", "", "hi"):
        s = est.score(prompt)
        assert 0.0 <= s <= 1.0
        assert again.score(prompt) == pytest.approx(s)
    assert again.reference == 0.4
    assert again.meta == {"note": "unit test"}


def test_hard_prompt_scores_above_trivial_with_tiny_params() -> None:
    est = DifficultyEstimator.from_params(tiny_params())
    hard = "Solve: prove that 17, 23 and 41 are prime, then add 3 and 9."
    easy = "Write a poem."
    assert est.score(hard) > est.score(easy)
    gate = est.explain(hard)
    assert gate["math"][0] > gate["open"][0]


def test_single_family_needs_no_gate() -> None:
    est = DifficultyEstimator.from_params({
        "families": ["all"],
        "experts": [{"bias": 0.0, "weights": {"w:hard": 5.0}}],
    })
    assert est.score("hard") > 0.9  # "hard" + its two boundary bigrams: value 1/sqrt(3)
    assert est.score("a hard one") > est.score("an easy one") == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feature_version": FEATURE_VERSION + 1}, "feature version"),
        ({"families": "math"}, "must be lists"),
        ({"experts": [{"bias": 0.0, "weights": {}}]}, "one expert per family"),
        ({"gate": []}, "one gate head per family"),
        ({"reference": 1.0}, "reference"),
        ({"shared": {"bias": 0.0, "weights": [1.0]}}, "weights"),
    ],
)
def test_invalid_params_are_rejected(change: dict[str, Any], message: str) -> None:
    params = tiny_params() | change
    with pytest.raises(ValueError, match=message):
        DifficultyEstimator.from_params(params)


def test_linear_head_ignores_unknown_features() -> None:
    head = LinearHead(bias=1.0, weights={"a": 2.0})
    assert head({"a": 0.5, "b": 100.0}) == pytest.approx(2.0)


def test_load_estimator_reads_a_given_file(tmp_path: Path) -> None:
    path = tmp_path / "params.json"
    path.write_text(json.dumps(tiny_params()))
    est = load_estimator(path)
    assert est.families == ("math", "open")
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_estimator(path)
    with pytest.raises(FileNotFoundError):
        load_estimator(tmp_path / "missing.json")


def test_shipped_params_load_and_rank_sensibly() -> None:
    assert DEFAULT_PARAMS_PATH.stat().st_size < 2_000_000
    est = load_estimator()
    assert 0.0 < est.reference < 1.0
    trivial = ["hi", "What is the capital of France?", "Write a short poem about autumn leaves."]
    hard = [
        "Find all real solutions of x^2 - 5x + 6 = 0, and show that their product equals 6.",
        "Implement a function to find the median of two sorted arrays of different sizes with O(log n) "
        "complexity.",
    ]
    for h in hard:
        for t in trivial:
            assert est.score(h) > est.score(t), (h, t)
