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


def test_word_problem_gets_quantitative_features() -> None:
    problem = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
               "Each clip costs $2. How much money did she earn in total in April and May?")
    f = extract_features(problem)
    assert f["q:numbers"] > 0 and f["q:distinct"] > 0
    assert f["q:ops"] > extract_features("Natalia has clips. She likes them.").get("q:ops", 0.0)
    assert f["q:money"] > 0 and f["q:sentences"] > 0
    plain = extract_features("Write a poem about the sea")
    assert not any(k.startswith("q:") and k != "q:sentences" for k in plain)  # zeros are left out
    assert all(v != 0 for v in plain.values())


def test_formulas_and_negation_are_seen() -> None:
    f = extract_features("Let f(x) = 3x^2 + \\frac{1}{2}. Which of the following is NOT a root?")
    assert f["q:formula"] > 0
    assert f["q:negation"] == 1.0
    assert "q:negation" not in extract_features("Which of the following is a root?")


def test_multiple_choice_layout() -> None:
    numeric = extract_features("Find the order of the group Z_4 x Z_6.\nA. 4\nB. 6\nC. 12\nD. 24\nAnswer:")
    assert numeric["o:numeric"] == 1.0
    assert numeric["o:stemlen"] > 0 and numeric["o:optlen"] > 0
    worded = extract_features("Which gas do plants take in?\nA) oxygen\nB) carbon dioxide\nC) helium\nD) neon")
    assert "o:numeric" not in worded and worded["o:optlen"] > numeric["o:optlen"]
    cjk = extract_features("运行中变压器温度最高的部分是\nA. 绕组\nB. 变压器油\nC. 引线\nD. 铁芯\n答案：")
    assert cjk["mc:4"] == 1.0 and "o:optlen" in cjk
    assert not any(k.startswith("o:") for k in extract_features("A. single option only"))


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


def test_shipped_params_are_version_3_and_use_the_new_features() -> None:
    params = json.loads(DEFAULT_PARAMS_PATH.read_text())
    assert params["feature_version"] == FEATURE_VERSION == 3
    assert params["families"] == ["math", "code", "mc", "open"]
    used = {name for head in (*params["experts"], params["shared"]) for name in head["weights"]}
    assert {"q:numbers", "q:formula", "o:numeric", "o:stemlen"} <= used


def test_shipped_model_sends_calculations_above_recall_in_multiple_choice() -> None:
    est = load_estimator()
    calculation = "Find the order of the group Z_4 x Z_6.\nA. 4\nB. 6\nC. 12\nD. 24\nAnswer:"
    recall = "Which city is the capital of France?\nA. Paris\nB. Rome\nC. Berlin\nD. Madrid\nAnswer:"
    assert est.explain(calculation)["mc"][0] > 0.5 and est.explain(recall)["mc"][0] > 0.5
    assert est.score(calculation) > est.score(recall)

