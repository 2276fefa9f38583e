#!/usr/bin/env python
"""Train the router's difficulty estimator on routing-data/train/ only and write its params.

    .venv/bin/python scripts/train_router.py [--data-dir ../shared/routing-data] [--out PATH]

Reads nothing from eval/. Deterministic: no random numbers in fitting (L-BFGS from zeros, fixed
iteration budget); a prompt is held out for validation when sha1(prompt) % 5 == 0; the final
model is refit on every row. Needs numpy (a dev dependency) and nothing else; the shipped
model is evaluated in pure Python by `domain.difficulty.DifficultyEstimator`.

Label, per prompt: the net advantage of a stronger model over a cheap one, in [0, 1]
("how likely the cheap model is NOT as good").
- open7b (ARC, CMMLU, C-Eval, GSM8K train, MATH prealgebra, HumanEval, MBPP, JavaScript):
  1 - mean score of the 7 open 7B/8B models (the strong model taken to be right).
- routerbench (ARC-Challenge, MBPP, Winogrande; 11 models): 1 - mean correctness of the eight
  cheap models (all but gpt-4-1106-preview, claude-v1, claude-v2).
- alpaca_eval (805 open-ended instructions): the capability gap between capable and weak
  generators, length-controlled; see `load_alpaca`.

Task families: math (GSM8K, MATH), code (HumanEval, MBPP, JavaScript, RouterBench MBPP),
mc (ARC, CMMLU, C-Eval, RouterBench ARC and Winogrande), open (alpaca_eval).

Model (see `DifficultyEstimator`): a softmax gate over the families (multinomial logistic
regression on the same features, families equally weighted) and, per family, a logistic
expert sigmoid(shared(x) + expert_f(x)) fitted jointly as one soft-label logistic regression
over shared + per-family feature copies (the copies penalised `--share` times harder). Within a
family every source carries the same total weight (CMMLU and C-Eval half). Heads are pruned to
the weights that move the training logits most (`--prune`, `--prune-gate`).

Prints validation figures on the held-out fifth (per source: Spearman with the label and an
APGR-style proxy with the source's own weak/strong qualities; routerbench uses Mixtral ->
GPT-4; "len APGR" is the prompt-length rule on the same rows; "mixed" pools the families).
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import json
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from domain.difficulty import FEATURE_VERSION, DifficultyEstimator, LinearHead, extract_features  # noqa: E402

DEFAULT_DATA = (REPO / ".." / "shared" / "routing-data").resolve()
DEFAULT_OUT = REPO / "adapters" / "routing" / "difficulty_params.json"

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


def load_open7b(train: Path) -> list[Example]:
    out: list[Example] = []
    for path in sorted((train / "open7b").glob("*.json")):
        name = path.stem
        for row in json.loads(path.read_text()):
            scores = [float(v) for v in row["scores"].values()]
            mean = sum(scores) / len(scores)
            out.append(Example(f"open7b/{name}", _open7b_family(name), row["question"], 1.0 - mean,
                               weak=mean, strong=1.0))
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


# ------------------------------------------------------------------------------ model


def stable_fold(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) % 5


class Design:
    """A CSR sparse design matrix over a vocabulary of feature names (numpy only)."""

    def __init__(self, feats: list[dict[str, float]], vocab: dict[str, int]) -> None:
        indptr = [0]
        cols: list[int] = []
        vals: list[float] = []
        for f in feats:
            for name, v in f.items():
                j = vocab.get(name)
                if j is not None:
                    cols.append(j)
                    vals.append(v)
            indptr.append(len(cols))
        self.n = len(feats)
        self.d = len(vocab)
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.cols = np.asarray(cols, dtype=np.int64)
        self.vals = np.asarray(vals, dtype=np.float64)
        self.rows = np.repeat(np.arange(self.n), np.diff(self.indptr))
        self._starts = self.indptr[:-1]
        self._empty = np.diff(self.indptr) == 0

    def dot(self, w: np.ndarray) -> np.ndarray:
        if not len(self.vals):
            return np.zeros(self.n)
        out = np.add.reduceat(self.vals * w[self.cols], np.minimum(self._starts, len(self.vals) - 1))
        out[self._empty] = 0.0
        return out

    def tdot(self, g: np.ndarray) -> np.ndarray:
        return np.bincount(self.cols, weights=self.vals * g[self.rows], minlength=self.d)


def build_vocab(feats: list[dict[str, float]], min_df: int) -> dict[str, int]:
    df: dict[str, int] = defaultdict(int)
    for f in feats:
        for name in f:
            df[name] += 1
    names = sorted(n for n, c in df.items() if c >= min_df)
    return {n: i for i, n in enumerate(names)}


def lbfgs(loss_grad, theta: np.ndarray, iters: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Minimise a smooth convex function: L-BFGS (memory 20) with Armijo backtracking."""
    f, g = loss_grad(theta)
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    for _ in range(iters):
        q = g.copy()
        alphas = []
        for s, yy in reversed(list(zip(s_hist, y_hist, strict=True))):
            a = (s @ q) / (yy @ s)
            alphas.append(a)
            q -= a * yy
        if s_hist:
            q *= (s_hist[-1] @ y_hist[-1]) / (y_hist[-1] @ y_hist[-1])
        for (s, yy), a in zip(zip(s_hist, y_hist, strict=True), reversed(alphas), strict=True):
            q += s * (a - (yy @ q) / (yy @ s))
        direction = -q
        gd = g @ direction
        if gd >= 0:
            direction, gd = -g, -(g @ g)
        step = 1.0
        while True:
            cand = theta + step * direction
            f_new, g_new = loss_grad(cand)
            if f_new <= f + 1e-4 * step * gd or step < 1e-10:
                break
            step *= 0.5
        s_vec, y_vec = cand - theta, g_new - g
        theta, f_old, f, g = cand, f, f_new, g_new
        if s_vec @ y_vec > 1e-12:
            s_hist.append(s_vec)
            y_hist.append(y_vec)
            if len(s_hist) > 20:
                s_hist.pop(0)
                y_hist.pop(0)
        if abs(f_old - f) < 1e-10 * max(1.0, abs(f)):
            break
    return theta


def fit_logreg(X: Design, y: np.ndarray, sw: np.ndarray, l2: float | np.ndarray,
               iters: int = 300) -> tuple[np.ndarray, float]:
    """Weighted soft-label logistic regression with L2 (per-feature strengths allowed; the
    intercept is unpenalised), by L-BFGS."""
    sw = sw / sw.sum()
    d = X.d

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = X.dot(w) + b
        p = 1.0 / (1.0 + np.exp(-z))
        # cross-entropy with soft labels, written stably
        ce = np.logaddexp(0.0, z) - y * z
        loss = float((sw * ce).sum() + 0.5 * (l2 * w) @ w)
        r = sw * (p - y)
        g = np.empty_like(theta)
        g[:d] = X.tdot(r) + l2 * w
        g[d] = r.sum()
        return loss, g

    theta = np.zeros(d + 1)
    mean = float((sw * y).sum())
    theta[d] = math.log(max(1e-6, mean) / max(1e-6, 1 - mean))
    theta = lbfgs(loss_grad, theta, iters)
    return theta[:d], float(theta[d])


# ------------------------------------------------------------------------------ metrics


def apgr(score: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> float:
    """Area under PGR vs strong share, sending the highest scores to the strong model first.

    Equal scores move together (the router cannot separate them); trapezoids between cuts.
    """
    n = len(score)
    w_mean, s_mean = weak.mean(), strong.mean()
    if abs(s_mean - w_mean) < 1e-12:
        return float("nan")
    order = np.argsort(-score, kind="stable")
    gain = (strong - weak)[order]
    sc = score[order]
    cum = np.concatenate([[0.0], np.cumsum(gain)])
    cuts = [0] + [i for i in range(1, n) if sc[i] != sc[i - 1]] + [n]
    xs = np.array(cuts, dtype=float) / n
    pgr = (cum[cuts] / n) / (s_mean - w_mean)
    return float(np.trapezoid(pgr, xs))


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks with ties given their average rank."""
    order = np.argsort(a, kind="stable")
    ranks = np.empty(len(a))
    sa = a[order]
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sa[j + 1] == sa[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0
        i = j + 1
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


# ------------------------------------------------------------------------------ main


FAMILIES = ("math", "code", "mc", "open")

# Within a family every source carries the same total weight, times this factor.
FAMILY_WEIGHT = {"math": 1.0, "code": 1.0, "mc": 1.0, "open": 1.0}

SOURCE_WEIGHT = {
    "open7b/cmmlu_train": 0.5, "open7b/cmmlu_test": 0.5, "open7b/ceval": 0.5,
}


def source_weights(examples: list[Example]) -> np.ndarray:
    counts: dict[str, int] = defaultdict(int)
    for e in examples:
        counts[e.source] += 1
    return np.array([SOURCE_WEIGHT.get(e.source, 1.0) / counts[e.source] for e in examples])


def fit_softmax(X: Design, cls: np.ndarray, k: int, sw: np.ndarray, l2: float,
                iters: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Weighted multinomial logistic regression (the gate), by the same L-BFGS."""
    sw = sw / sw.sum()
    d = X.d
    onehot = np.zeros((X.n, k))
    onehot[np.arange(X.n), cls] = 1.0

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W = theta[: k * d].reshape(k, d)
        b = theta[k * d:]
        z = np.stack([X.dot(W[j]) for j in range(k)], axis=1) + b[None]
        z -= z.max(1, keepdims=True)
        lse = np.log(np.exp(z).sum(1))
        p = np.exp(z - lse[:, None])
        loss = float((sw * (lse - (z * onehot).sum(1))).sum() + 0.5 * l2 * (W * W).sum())
        r = sw[:, None] * (p - onehot)
        g = np.empty_like(theta)
        g[: k * d] = (np.stack([X.tdot(r[:, j]) for j in range(k)]) + l2 * W).ravel()
        g[k * d:] = r.sum(0)
        return loss, g

    theta = lbfgs(loss_grad, np.zeros(k * d + k), iters)
    return theta[: k * d].reshape(k, d), theta[k * d:]


def _prune(names: list[str], w: np.ndarray, mass: np.ndarray, keep: int) -> dict[str, float]:
    """The `keep` weights that move the training logits most: |w_j| * sum_i |x_ij|.

    Rare features with small weights barely change any score; dropping them keeps the shipped
    file small. Weights are rounded to 4 decimals.
    """
    order = np.argsort(-(np.abs(w) * mass))[:keep]
    return {names[j]: round(float(w[j]), 4) for j in order if abs(w[j]) >= 5e-4}


def _mass(X: Design) -> np.ndarray:
    return np.bincount(X.cols, weights=np.abs(X.vals), minlength=X.d)


_SEP = "\x1f"  # joins a family and a feature name in the training design (never in the params)


def fit_augmented(examples: list[Example], l2: float, share: float, min_df: int,
                  prune: int) -> tuple[LinearHead, list[LinearHead]]:
    """One logistic regression over shared + per-family copies of every feature.

    Each example of family f sees its features twice: as `name` (shared by all families) and
    as `f<SEP>name` (its family's own copy), plus a per-family bias. The family copies are
    penalised `share` times harder than the shared ones, so what holds across families is
    learned once from all the data and a family only keeps the deviations its data insists on.
    """
    aug = []
    for e in examples:
        f = dict(e.feats)
        f.update({e.family + _SEP + k: v for k, v in e.feats.items()})
        f[e.family + _SEP] = 1.0  # the family's bias
        aug.append(f)
    vocab = build_vocab(aug, min_df)
    names = list(vocab)
    owner = [next((fam for fam in FAMILIES if n.startswith(fam + _SEP)), None) for n in names]
    X = Design(aug, vocab)
    penalty = np.array([0.0 if (o is not None and n == o + _SEP) else (l2 * share if o is not None else l2)
                        for n, o in zip(names, owner, strict=True)])
    sw = source_weights(examples) * np.array([FAMILY_WEIGHT[e.family] for e in examples])
    w, b = fit_logreg(X, np.array([e.label for e in examples]), sw, penalty)
    mass = _mass(X)
    shared_idx = [j for j, o in enumerate(owner) if o is None]
    shared = LinearHead(round(b, 4), _prune([names[j] for j in shared_idx], w[shared_idx], mass[shared_idx], prune))
    experts = []
    for family in FAMILIES:
        prefix = family + _SEP
        idx = [j for j, (n, o) in enumerate(zip(names, owner, strict=True)) if o == family and n != prefix]
        bias = float(w[vocab[prefix]]) if prefix in vocab else 0.0
        keys = [names[j][len(prefix):] for j in idx]
        experts.append(LinearHead(round(bias, 4), _prune(keys, w[idx], mass[idx], prune)))
    return shared, experts


def train(examples: list[Example], cfg: argparse.Namespace) -> DifficultyEstimator:
    feats = [e.feats for e in examples]
    vocab = build_vocab(feats, cfg.min_df)
    names = list(vocab)
    X = Design(feats, vocab)
    fam = np.array([FAMILIES.index(e.family) for e in examples])
    # gate: every family the same total weight
    counts = np.bincount(fam, minlength=len(FAMILIES))
    Wg, bg = fit_softmax(X, fam, len(FAMILIES), 1.0 / counts[fam], cfg.l2_gate)
    mass = _mass(X)
    gate = tuple(LinearHead(round(float(bg[j]), 4), _prune(names, Wg[j], mass, cfg.prune_gate))
                 for j in range(len(FAMILIES)))
    shared, experts = fit_augmented(examples, cfg.l2, cfg.share, cfg.min_df, cfg.prune)
    est = DifficultyEstimator(families=FAMILIES, gate=gate, experts=tuple(experts), shared=shared)
    scores = np.array([est.score(e.text, e.turns) for e in examples])
    return DifficultyEstimator(families=FAMILIES, gate=gate, experts=tuple(experts), shared=shared,
                               reference=round(float(np.median(scores)), 4))


def report(est: DifficultyEstimator, examples: list[Example], title: str) -> dict[str, float]:
    """Validation figures; returns the summary used for model selection."""
    by: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by[e.source].append(i)
    s = np.array([est.score(e.text, e.turns) for e in examples])
    gates = [est.explain(e.text, e.turns) for e in examples]
    lab = np.array([e.label for e in examples])
    wk = np.array([e.weak for e in examples])
    st = np.array([e.strong for e in examples])
    print(f"\n{title}")
    print(f"{'source':30s} {'n':>5s} {'label':>6s} {'score':>6s} {'spearman':>8s} {'APGR':>6s}"
          f" {'len APGR':>8s} {'gate ok':>7s}")
    summary: dict[str, float] = {}
    for src in sorted(by):
        idx = np.array(by[src])
        length = np.array([len(examples[i].text) for i in idx], dtype=float)
        fam = examples[idx[0]].family
        ok = np.mean([max(gates[i], key=lambda f: gates[i][f][0]) == fam for i in idx])
        a = apgr(s[idx], wk[idx], st[idx])
        summary[src] = a
        print(f"{src:30s} {len(idx):5d} {lab[idx].mean():6.3f} {s[idx].mean():6.3f} {spearman(s[idx], lab[idx]):8.3f}"
              f" {a:6.3f} {apgr(length, wk[idx], st[idx]):8.3f} {ok:7.3f}")
    # cross-family ordering: all held-out prompts pooled, quality = 1 - label for the cheap
    # model and 1 for the strong one, every family the same total weight.
    fams = sorted({e.family for e in examples})
    picks = []
    rng = np.random.default_rng(0)
    per = min(sum(1 for e in examples if e.family == f) for f in fams)
    for f in fams:
        idx = [i for i, e in enumerate(examples) if e.family == f]
        picks.extend(rng.choice(idx, per, replace=False).tolist())
    p = np.array(picks)
    mixed = apgr(s[p], 1 - lab[p], np.ones(len(p)))
    length = np.array([len(examples[i].text) for i in p], dtype=float)
    summary["mixed"] = mixed
    print(f"{'mixed (families balanced)':30s} {len(p):5d} {lab[p].mean():6.3f} {s[p].mean():6.3f}"
          f" {spearman(s[p], lab[p]):8.3f} {mixed:6.3f} {apgr(length, 1 - lab[p], np.ones(len(p))):8.3f}")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--l2-gate", type=float, default=1e-4)
    ap.add_argument("--share", type=float, default=3.0, help="L2 multiplier of the per-family copies")
    ap.add_argument("--min-df", type=int, default=3)
    ap.add_argument("--prune", type=int, default=8000, help="weights kept per expert / shared head")
    ap.add_argument("--prune-gate", type=int, default=3000, help="weights kept per gate head")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    train_dir = args.data_dir / "train"
    t0 = time.time()
    examples = load_open7b(train_dir) + load_routerbench(train_dir) + load_alpaca(train_dir)
    for e in examples:
        e.feats = extract_features(e.text, e.turns)
    print(f"loaded {len(examples)} train prompts in {time.time() - t0:.1f}s")
    fit_rows = [e for e in examples if stable_fold(e.text) != 0]
    val_rows = [e for e in examples if stable_fold(e.text) == 0]
    est = train(fit_rows, args)
    report(est, val_rows, "validation (held-out fifth of train/, model fit on the other 4/5)")
    final = train(examples, args)
    n_weights = sum(len(h.weights) for h in final.gate + final.experts)
    print(f"\nfinal model: {n_weights} weights, reference={final.reference}")
    if not args.no_write:
        params = final.to_params()
        params["meta"] = {"trained_on": "routing-data/train (open7b, routerbench, alpaca_eval)",
                          "script": "scripts/train_router.py", "feature_version": FEATURE_VERSION,
                          "l2": args.l2, "l2_gate": args.l2_gate, "share": args.share, "min_df": args.min_df,
                          "prune": args.prune, "prune_gate": args.prune_gate}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(params, separators=(",", ":")))
        print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
