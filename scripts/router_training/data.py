"""Labelled training prompts from routing-data/train/ (never eval/).

Label, per prompt: the net advantage of a stronger model over a cheap one, in [0, 1]
("how likely the cheap model is NOT as good").
- open7b (ARC, CMMLU, C-Eval, GSM8K train, MATH prealgebra, HumanEval, MBPP, JavaScript):
  the values of 1 - mean score of the 7 open 7B/8B models (the strong model taken to be
  right), in the order of the 3 strongest models' failure rate; see `load_open7b`.
- routerbench (ARC-Challenge, MBPP, Winogrande; 11 models): 1 - mean correctness of the eight
  cheap models (all but gpt-4-1106-preview, claude-v1, claude-v2).
- alpaca_eval (805 open-ended instructions): the capability gap between capable and weak
  generators, length-controlled; see `load_alpaca`.

Task families: math (GSM8K, MATH), code (HumanEval, MBPP, JavaScript, RouterBench MBPP),
mc (ARC, CMMLU, C-Eval, RouterBench ARC and Winogrande), open (alpaca_eval).
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RB_MODELS = [
    "WizardLM/WizardLM-13B-V1.2", "claude-instant-v1", "claude-v1", "claude-v2", "gpt-3.5-turbo-1106",
    "gpt-4-1106-preview", "meta/code-llama-instruct-34b-chat", "meta/llama-2-70b-chat",
    "mistralai/mistral-7b-chat", "mistralai/mixtral-8x7b-chat", "zero-one-ai/Yi-34B-Chat",
]
RB_STRONG = "gpt-4-1106-preview"
RB_CHEAP = [m for m in RB_MODELS if m not in (RB_STRONG, "claude-v1", "claude-v2")]


@dataclass
class Example:
    source: str  # e.g. "open7b/gsm8k"
    family: str  # task family used for loss weighting
    text: str
    label: float  # P(cheap model fails), in [0, 1]
    weak: float  # quality of the weak reference model (validation proxies)
    strong: float  # quality of the strong reference model (validation proxies)
    turns: int = 1
    feats: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------------ loading


def _open7b_family(name: str) -> str:
    if name.startswith(("arc", "cmmlu", "ceval")):
        return "mc"
    if name.startswith(("gsm8k", "MATH")):
        return "math"
    return "code"


OPEN7B_RANKERS = 3  # the strongest models of each open7b file decide the order of its labels


def load_open7b(train: Path) -> list[Example]:
    """Label = 1 - mean score of the 7 models, re-ordered by the 3 strongest (see below).

    The question for the router is whether a Mixtral / GPT-3.5-class model fails where GPT-4
    does not; that is better told by where the best of the seven fail than by where all of them
    do (on RouterBench ARC, held out, this order ranks Mixtral-vs-GPT-4 gains better). The
    labels keep the 7-model mean's values (so every source keeps its level next to the other
    families), handed out in the order of the 3 strongest models' failure rate (ties: the mean).
    """
    out: list[Example] = []
    for path in sorted((train / "open7b").glob("*.json")):
        name = path.stem
        rows = json.loads(path.read_text())
        models = sorted(rows[0]["scores"])
        acc = {m: sum(float(r["scores"][m]) for r in rows) / len(rows) for m in models}
        top = sorted(models, key=lambda m: (-acc[m], m))[:OPEN7B_RANKERS]
        mean_fail = [1.0 - sum(float(r["scores"][m]) for m in models) / len(models) for r in rows]
        top_fail = [1.0 - sum(float(r["scores"][m]) for m in top) / len(top) for r in rows]
        order = sorted(range(len(rows)), key=lambda i: (top_fail[i], mean_fail[i], i))
        label = [0.0] * len(rows)
        for value, i in zip(sorted(mean_fail), order, strict=True):
            label[i] = value
        for row, y in zip(rows, label, strict=True):
            out.append(Example(f"open7b/{name}", _open7b_family(name), row["question"], y,
                               weak=1.0 - y, strong=1.0))
    return out


def rb_prompt(cell: str) -> str:
    """RouterBench stores the prompt as a Python list literal of strings."""
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        return cell
    if isinstance(value, list):
        return "\n\n".join(str(v) for v in value)
    return str(value)


def read_routerbench(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with path.open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if all(r[m] != "" for m in RB_MODELS)]


def load_routerbench(train: Path) -> list[Example]:
    out: list[Example] = []
    for slice_name in ("arc_challenge", "mbpp", "winograde"):
        for r in read_routerbench(train / "routerbench" / f"{slice_name}_train.csv"):
            cheap = sum(float(r[m]) for m in RB_CHEAP) / len(RB_CHEAP)
            family = {"arc_challenge": "mc", "mbpp": "code", "winograde": "mc"}[slice_name]
            out.append(Example(f"routerbench/{slice_name}", family, rb_prompt(r["prompt"]), 1.0 - cheap,
                               weak=float(r["mistralai/mixtral-8x7b-chat"]), strong=float(r[RB_STRONG])))
    return out


# alpaca_eval generator tiers. "competent": cheap-but-capable chat models of the Mixtral /
# GPT-3.5 class; "weak": 2023 small open models. Excluded per the data README:
# gpt4_1106_preview (the reference itself), NullModel, gpt4_gamed, *_concise, *_verbose.
ALPACA_COMPETENT = [
    "OpenHermes-2.5-Mistral-7B", "Qwen-14B-Chat", "gpt-3.5-turbo-1106", "gpt-3.5-turbo-0301",
    "claude-instant-1.2", "humpback-llama2-70b", "jina-chat", "claude-2", "claude", "claude-2.1",
]
ALPACA_WEAK = [
    "alpaca-7b", "vicuna-7b", "falcon-7b-instruct", "pythia-12b-mix-sft", "oasst-sft-pythia-12b",
    "chatglm2-6b", "gemma-2b-it", "phi-2-sft", "minichat-3b", "baize-v2-13b", "vicuna-7b-v1.3",
    "vicuna-7b-v1.5",
]


def _alpaca_excluded(name: str) -> bool:
    return (name in ("idx", "gpt4_1106_preview", "NullModel", "gpt4_gamed")
            or name.endswith(("_concise", "_verbose")))


def load_alpaca(train: Path) -> list[Example]:
    """Open-ended instructions, labelled by how much capability matters for them.

    The judge compares every generator with GPT-4-Turbo, and for open-ended prompts it prefers
    the reference's (longer) answers almost regardless of who it faces, so "loses to GPT-4-Turbo"
    says little about whether a cheap model is good enough. What the data does show is where
    a stronger model earns its keep: the per-prompt gap between capable and weak generators.
    1. z = logit(preference) for every (prompt, generator), clipped to [1e-3, 1 - 1e-3];
    2. length control as in AlpacaEval-LC: z = a_generator + b_prompt + beta * tanh(log(len /
       ref_len)) + e, fitted by alternating least squares; subtract the beta term;
    3. gap = mean z over ALPACA_COMPETENT - mean z over ALPACA_WEAK (a Bradley-Terry strength
       difference, both tiers judged against the same reference);
    4. label = max(0, tanh(gap / 2)) = P(capable tier wins) - P(weak tier wins), the net
       advantage of the stronger tier, the same quantity as "1 - weak accuracy" on a task with
       a right answer when the strong model is right.
    Proxy qualities for validation: weak = 1 - label, strong = 1.
    """
    base = train / "alpaca_eval"
    with (base / "prompts.csv").open(newline="") as fh:
        prompts = list(csv.DictReader(fh))
    with (base / "preference_vs_gpt4turbo.csv").open(newline="") as fh:
        prefs = list(csv.DictReader(fh))
    with (base / "output_chars.csv").open(newline="") as fh:
        lengths = list(csv.DictReader(fh))
    gens = [g for g in prefs[0] if not _alpaca_excluded(g)]
    by_idx = {r["idx"]: r for r in prefs}
    len_idx = {r["idx"]: r for r in lengths}
    eps = 1e-3
    pm = np.array([[float(by_idx[p["idx"]][g]) - 1.0 for g in gens] for p in prompts]).clip(eps, 1 - eps)
    z = np.log(pm / (1 - pm))
    ref = np.array([max(1.0, float(p["ref_gpt4_turbo_output_chars"])) for p in prompts])
    out_len = np.array([[max(1.0, float(len_idx[p["idx"]][g] or 1)) for g in gens] for p in prompts])
    x = np.tanh(np.log(out_len / ref[:, None]))
    a = np.zeros(len(gens))
    b = np.zeros(len(prompts))
    beta = 0.0
    for _ in range(50):
        beta = float(((z - a[None] - b[:, None]) * x).sum() / (x * x).sum())
        a = (z - b[:, None] - beta * x).mean(0)
        a -= a.mean()
        b = (z - a[None] - beta * x).mean(1)
    zc = z - beta * x
    comp = zc[:, [gens.index(g) for g in ALPACA_COMPETENT]].mean(1)
    weak = zc[:, [gens.index(g) for g in ALPACA_WEAK]].mean(1)
    label = np.clip(np.tanh((comp - weak) / 2.0), 0.0, 1.0)
    return [Example("alpaca_eval", "open", p["instruction"], float(v), weak=1.0 - float(v), strong=1.0)
            for p, v in zip(prompts, label, strict=True)]




def load_all(train: Path) -> list[Example]:
    """Every labelled training prompt: open7b, then routerbench, then alpaca_eval."""
    return load_open7b(train) + load_routerbench(train) + load_alpaca(train)


def stable_fold(text: str) -> int:
    """A prompt's validation fold, 0-4, the same in every process."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) % 5
