"""Prompt difficulty: how likely a cheap model is NOT to do as well as a strong one.

Pure Python, no I/O. `extract_features` turns a prompt (and the number of conversation turns)
into a sparse feature map; `DifficultyEstimator` scores it with a fitted gated mixture of
logistic experts (see the class). The parameters are learned offline by
`scripts/train_router.py` (on `routing-data/train/` only) and shipped as JSON next to
`adapters/routing/params_file.py`, which builds the estimator with
`DifficultyEstimator.from_params`. Training and inference call the same `extract_features`,
so the feature definition lives in exactly one place; `FEATURE_VERSION` is stored in the
params and checked on load.

Features (all computed from the text and the turn count only):
- word unigrams and bigrams of the lower-cased text (numbers collapsed to a digit-count class,
  CJK characters as single tokens, punctuation and symbols as tokens), presence-valued and
  scaled by 1/sqrt(number of distinct n-grams) so long prompts do not dominate;
- unigrams of the question part (`_core`: the last block of a few-shot prompt, otherwise the
  prompt; its last `_TAIL` characters), in their own namespace;
- structure of the question part: length buckets, counts of numbers and quantity words,
  sentences, math symbols, code markers, question marks, lines, multiple-choice options; of
  the prompt: few-shot "Answer:" markers, CJK / upper-case / digit shares, turns;
- quantitative content of the question part (`q:`, version 3): numbers, distinct numbers, big
  numbers, decimals, percentages, currency, word-problem operations, formulas, sentences, and
  whether the question is negated ("NOT", "EXCEPT");
- multiple-choice layout (`o:`, version 3): stem length, mean option length, the share of
  numeric and of formula options. Language-independent, so what is learned on Chinese exams
  applies to English ones.
Features whose value is 0 are left out (the same as absent for a linear head).

Long prompts are read as their first and last `_SPAN` characters (n-grams and structure
counts alike; only the length feature sees the true length), which bounds the cost of a
decision.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FEATURE_VERSION = 3

_SPAN = 1500  # n-grams read the first and last _SPAN characters of long prompts
_TAIL = 600  # the question-part namespace reads at most this many trailing characters

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*|[\u3400-\u9fff]|[^\sa-z\d\u3400-\u9fff]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CJK = re.compile(r"[\u3400-\u9fff]")
_NO_DIGITS = str.maketrans("", "", "0123456789")
_NO_UPPER = str.maketrans("", "", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_MATH = re.compile(r"[=+*/^<>%$\\]|\d\s*-\s*\d")
_CODE = re.compile(r"[{};]|=>|#include|\b(?:def|return|import|function|const|class|print)\b|\w\(\w*\)")
_MC_OPTION = re.compile(r"(?m)^\s*\(?[A-Da-d][.):]\s")
_ANSWER = re.compile(r"(?i)\banswer\s*[:：]|答案")
_BLOCK = re.compile(r"\n\s*\n")
_QUANTITY = re.compile(
    r"\d+(?:[.,]\d+)*|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|hundred|thousand|million|half|twice|double|triple|thrice|quarter|third|dozen|"
    r"percent|times)\b"
)
_SENTENCE = re.compile(r"[.?!。？！](?:\s|$)")
# quantitative operations in a word problem (each one is a step the model has to get right)
_OPERATION = re.compile(
    r"\b(?:each|per|every|times|twice|half|double|triple|more|less|fewer|than|total|remaining|left|average|"
    r"percent|discount|profit|rate|ratio|fraction|sum|difference|product|altogether|combined|split|share|"
    r"divided|increase|decrease|cost|costs|earn|earns|pay|pays|spend|spends|spent|buy|buys|bought|sell|sells|sold)\b"
)
# formulas: LaTeX, powers, roots, algebra like 3x or f(x), relations between terms
_FORMULA = re.compile(r"\\[a-z]+|\$[^$\n]{1,80}\$|\^|√|∫|∑|π|\b\d+[a-z]\b|\b[a-z]\(\w{1,3}\)|[<>≤≥≠]=?|\w\s?=\s?\w")
_OPTION_LINE = re.compile(r"(?m)^\s*\(?[A-Da-d][.):：]\s*(.*)$")
_NUMERIC_OPTION = re.compile(r"^[\s$€£¥(-]*\d[\d\s.,/%^:()+\-*×x√πa-z]{0,24}$")
# negated or exclusive questions ("which is NOT", "all EXCEPT", ...)
_NEGATION = re.compile(r"\b(?:not|except|false|incorrect|least)\b|不|错误|除了")


def _bucket(n: int, edges: tuple[int, ...]) -> int:
    for i, edge in enumerate(edges):
        if n <= edge:
            return i
    return len(edges)


_LEN_EDGES = (40, 80, 160, 320, 640, 1280, 2560, 5120)
_COUNT_EDGES = (0, 1, 2, 3, 5, 8, 13, 21)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    for tok in _TOKEN.findall(text):
        c = tok[0]
        if "0" <= c <= "9":
            digits = sum(ch.isdigit() for ch in tok)
            out.append("#dec" if ("." in tok or "," in tok) else f"#{min(digits, 5)}")
        else:
            out.append(tok)
    return out


def _ngram_features(prefix: str, toks: list[str], bigrams: bool, out: dict[str, float]) -> None:
    # a dict, not a set: first-occurrence order is the same in every process (str hashing is
    # salted per process), so sums over the features, and training, are reproducible
    grams: dict[str, None] = dict.fromkeys(toks)
    if bigrams:
        prev = "<s>"
        for t in toks:
            grams[prev + " " + t] = None
            prev = t
        grams[prev + " </s>"] = None
    if not grams:
        return
    value = 1.0 / math.sqrt(len(grams))
    for g in grams:
        out[prefix + g] = value


def _core(text: str) -> str:
    """The part of the prompt that poses the question.

    Few-shot prompts (two or more "Answer:" markers) are reduced to their last block, so the
    worked examples in front of the question do not read as a long or numeric question.
    """
    if len(_ANSWER.findall(text)) < 2:
        return text
    blocks = _BLOCK.split(text[-4 * _TAIL:])
    core = blocks[-1].strip()
    i = len(blocks) - 2
    while len(core) < 40 and i >= 0:
        core = (blocks[i].strip() + "\n" + core).strip()
        i -= 1
    return core


def extract_features(prompt: str, turns: int = 1) -> dict[str, float]:
    """The sparse feature map of a prompt (feature name -> value)."""
    text = prompt.strip()
    # everything below reads a bounded window: the whole prompt, or its head and tail
    counted = text if len(text) <= 2 * _SPAN else text[:_SPAN] + "\n" + text[-_SPAN:]
    feats: dict[str, float] = {}

    # --- n-grams over the window and over the question part
    _ngram_features("w:", _tokens(counted.lower()), True, feats)
    core = _core(counted)
    _ngram_features("t:", _tokens(core[-_TAIL:].lower()), False, feats)

    # --- structure of the question part (length: of the whole prompt unless few-shot)
    n = len(core) if core is not counted else len(text)
    feats[f"len:{_bucket(n, _LEN_EDGES)}"] = 1.0
    feats["loglen"] = math.log1p(n) / 8.0
    feats["logwords"] = math.log1p(len(core.split())) / 7.0
    feats[f"nums:{_bucket(len(_NUMBER.findall(core)), _COUNT_EDGES)}"] = 1.0
    quantities = len(_QUANTITY.findall(core.lower()))
    feats[f"qty:{_bucket(quantities, _COUNT_EDGES)}"] = 1.0
    if quantities:
        feats["logqty"] = math.log1p(quantities) / 3.0
    feats[f"sent:{_bucket(len(_SENTENCE.findall(core)), _COUNT_EDGES)}"] = 1.0
    feats[f"math:{_bucket(len(_MATH.findall(core)), _COUNT_EDGES)}"] = 1.0
    feats[f"code:{_bucket(len(_CODE.findall(core)), _COUNT_EDGES)}"] = 1.0
    feats[f"qmark:{_bucket(core.count('?') + core.count('？'), _COUNT_EDGES)}"] = 1.0
    feats[f"lines:{_bucket(core.count(chr(10)) + 1, _COUNT_EDGES)}"] = 1.0
    feats[f"mc:{min(len(_MC_OPTION.findall(core)), 5)}"] = 1.0
    _quantitative(core, feats)
    _options(core, feats)
    # --- whole prompt
    feats[f"answers:{_bucket(len(_ANSWER.findall(counted)), _COUNT_EDGES)}"] = 1.0
    feats[f"turns:{min(max(turns, 1), 4)}"] = 1.0
    if counted:
        m = len(counted)
        shares = {"cjk": len(_CJK.findall(counted)) / m, "upper": (m - len(counted.translate(_NO_UPPER))) / m,
                  "digits": (m - len(counted.translate(_NO_DIGITS))) / m}
        feats.update((k, v) for k, v in shares.items() if v)
    return feats


def _quantitative(core: str, feats: dict[str, float]) -> None:
    """Dense counts for quantitative questions (log-scaled to about [0, 1])."""
    lower = core.lower()
    numbers = _NUMBER.findall(core)
    q: dict[str, float] = {}
    q["q:numbers"] = math.log1p(len(numbers)) / 3.0
    q["q:distinct"] = math.log1p(len(set(numbers))) / 3.0
    q["q:big"] = min(sum(len(n) >= 3 for n in numbers), 5) / 5.0
    q["q:decimal"] = min(sum("." in n for n in numbers), 4) / 4.0
    q["q:percent"] = min(core.count("%") + lower.count("percent"), 4) / 4.0
    q["q:money"] = min(core.count("$") + core.count("¥") + core.count("€"), 6) / 6.0
    q["q:ops"] = math.log1p(len(_OPERATION.findall(lower))) / 3.0
    q["q:formula"] = math.log1p(len(_FORMULA.findall(lower))) / 3.0
    q["q:sentences"] = math.log1p(len(_SENTENCE.findall(core))) / 3.0
    q["q:negation"] = 1.0 if _NEGATION.search(lower) else 0.0
    feats.update((k, v) for k, v in q.items() if v)  # zeros are the same as absent


def _options(core: str, feats: dict[str, float]) -> None:
    """Layout of a multiple-choice question: how long its stem and options are, whether the
    options are numbers (a calculation) or formulas."""
    options = [o.strip() for o in _OPTION_LINE.findall(core)]
    if len(options) < 2:
        return
    first = _OPTION_LINE.search(core)
    stem = core[:first.start()] if first else core
    o = {
        "o:stemlen": math.log1p(len(stem)) / 8.0,
        "o:optlen": math.log1p(sum(len(o) for o in options) / len(options)) / 6.0,
        "o:numeric": sum(bool(_NUMERIC_OPTION.match(o.lower())) for o in options) / len(options),
        "o:formula": sum(bool(_FORMULA.search(o.lower())) for o in options) / len(options),
    }
    feats.update((k, v) for k, v in o.items() if v)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class LinearHead:
    """bias + sum(weights[f] * value[f]) over the features present."""

    bias: float
    weights: Mapping[str, float]

    def __call__(self, feats: Mapping[str, float]) -> float:
        w = self.weights
        total = self.bias
        for name, value in feats.items():
            weight = w.get(name)
            if weight is not None:
                total += weight * value
        return total

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> LinearHead:
        raw = params.get("weights", {})
        if not isinstance(raw, Mapping):
            raise ValueError("difficulty params: a head's 'weights' must be an object {feature: weight}")
        return cls(bias=float(params.get("bias", 0.0)), weights={str(k): float(v) for k, v in raw.items()})

    def to_params(self) -> dict[str, Any]:
        return {"bias": self.bias, "weights": dict(sorted(self.weights.items()))}


@dataclass(frozen=True, slots=True)
class DifficultyEstimator:
    """A gated mixture of linear experts over `extract_features`; `score` is in [0, 1].

    A softmax gate (one head per task family, e.g. math / code / multiple-choice / open-ended)
    says what kind of prompt this is; each family's expert says how likely a cheap model is
    to fail it, as sigmoid(shared(x) + expert_f(x)): the shared head carries what holds across
    families, the expert its family's level and deviations. The score is the gate-weighted
    mixture of the experts' probabilities. With one family there is no gate.

    `reference` is the median score over the training prompts: the router treats a prompt at
    that difficulty as typical (cost_bias = 0.5 sends it to the middle of the range).
    """

    families: tuple[str, ...]
    gate: tuple[LinearHead, ...]
    experts: tuple[LinearHead, ...]
    shared: LinearHead = LinearHead(0.0, {})
    reference: float = 0.5
    meta: Mapping[str, Any] | None = None
    # feature -> ((head, weight), ...) over all heads: gate 0..k-1, experts k..2k-1, shared 2k.
    # One dict lookup per feature instead of one per head (most n-grams are in no head).
    _index: dict[str, tuple[tuple[int, float], ...]] = field(init=False, repr=False, compare=False)
    _biases: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.families or len(self.experts) != len(self.families):
            raise ValueError("difficulty estimator: one expert per family is required")
        if len(self.families) > 1 and len(self.gate) != len(self.families):
            raise ValueError("difficulty estimator: one gate head per family is required")
        if not 0.0 < self.reference < 1.0:
            raise ValueError("difficulty estimator: 'reference' must be in (0, 1)")
        k = len(self.families)
        gate = self.gate if k > 1 else (LinearHead(0.0, {}),)
        heads = (*gate, *self.experts, self.shared)
        index: dict[str, list[tuple[int, float]]] = {}
        for h, head in enumerate(heads):
            for name, weight in head.weights.items():
                index.setdefault(name, []).append((h, weight))
        object.__setattr__(self, "_index", {n: tuple(v) for n, v in index.items()})
        object.__setattr__(self, "_biases", tuple(head.bias for head in heads))

    def _heads(self, prompt: str, turns: int) -> tuple[list[float], list[float]]:
        """(gate probabilities, expert failure probabilities) for a prompt."""
        acc = list(self._biases)
        index = self._index
        for name, value in extract_features(prompt, turns).items():
            entry = index.get(name)
            if entry is not None:
                for h, weight in entry:
                    acc[h] += weight * value
        k = len(self.families)
        if k == 1:
            gates = [1.0]
        else:
            top = max(acc[:k])
            exps = [math.exp(v - top) for v in acc[:k]]
            total = sum(exps)
            gates = [e / total for e in exps]
        base = acc[2 * k]
        return gates, [_sigmoid(base + v) for v in acc[k:2 * k]]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DifficultyEstimator:
        """Build from the JSON-shaped params written by `scripts/train_router.py`:

        `{"feature_version": int, "families": [name, ...], "gate": [head, ...],
          "experts": [head, ...], "shared": head, "reference": float, "meta": {...}}` where a
        head is `{"bias": float, "weights": {feature: weight}}`. `gate` may be omitted with one
        family, `shared` when there is none.
        """
        version = params.get("feature_version", FEATURE_VERSION)
        if version != FEATURE_VERSION:
            raise ValueError(f"difficulty params are for feature version {version}, "
                             f"this code computes version {FEATURE_VERSION}")
        families = params.get("families")
        experts = params.get("experts")
        gate = params.get("gate", [])
        if not isinstance(families, list) or not isinstance(experts, list) or not isinstance(gate, list):
            raise ValueError("difficulty params: 'families', 'experts' and 'gate' must be lists")
        meta = params.get("meta")
        return cls(
            families=tuple(str(f) for f in families),
            gate=tuple(LinearHead.from_params(h) for h in gate),
            experts=tuple(LinearHead.from_params(h) for h in experts),
            shared=LinearHead.from_params(params.get("shared", {})),
            reference=float(params.get("reference", 0.5)),
            meta=dict(meta) if isinstance(meta, Mapping) else None,
        )

    def to_params(self) -> dict[str, Any]:
        return {
            "feature_version": FEATURE_VERSION,
            "families": list(self.families),
            "gate": [h.to_params() for h in self.gate],
            "experts": [h.to_params() for h in self.experts],
            "shared": self.shared.to_params(),
            "reference": self.reference,
            "meta": dict(self.meta or {}),
        }

    def explain(self, prompt: str, turns: int = 1) -> dict[str, tuple[float, float]]:
        """Per family: (gate probability, that expert's failure probability)."""
        gates, experts = self._heads(prompt, turns)
        return {f: (g, p) for f, g, p in zip(self.families, gates, experts, strict=True)}

    def score(self, prompt: str, turns: int = 1) -> float:
        """Estimated probability that the cheap model is NOT as good as a strong one."""
        gates, experts = self._heads(prompt, turns)
        total = sum(g * p for g, p in zip(gates, experts, strict=True))
        return min(1.0, max(0.0, total))
