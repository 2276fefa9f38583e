"""Build a `DifficultyEstimator` from labelled examples.

Model (see `DifficultyEstimator`): a softmax gate over the families (multinomial logistic
regression on the same features, families equally weighted) and, per family, a logistic
expert sigmoid(shared(x) + expert_f(x)) fitted jointly as one soft-label logistic regression
over shared + per-family feature copies (the copies penalised `share` times harder). Within a
family every source carries the same total weight (CMMLU and C-Eval half). Heads are pruned to
the weights that move the training logits most (`prune`, `prune_gate`).
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from domain.difficulty import DifficultyEstimator, LinearHead

from .data import Example
from .fitting import Design, build_vocab, fit_logreg, fit_softmax

FAMILIES = ("math", "code", "mc", "open")

# Within a family every source carries the same total weight, times this factor.
FAMILY_WEIGHT = {"math": 1.0, "code": 1.0, "mc": 1.0, "open": 1.0}

SOURCE_WEIGHT = {
    "open7b/cmmlu_train": 0.5, "open7b/cmmlu_test": 0.5, "open7b/ceval": 0.5,
}

_SEP = "\x1f"  # joins a family and a feature name in the training design (never in the params)


def source_weights(examples: list[Example]) -> np.ndarray:
    counts: dict[str, int] = defaultdict(int)
    for e in examples:
        counts[e.source] += 1
    return np.array([SOURCE_WEIGHT.get(e.source, 1.0) / counts[e.source] for e in examples])


def _prune(names: list[str], w: np.ndarray, mass: np.ndarray, keep: int) -> dict[str, float]:
    """The `keep` weights that move the training logits most: |w_j| * sum_i |x_ij|.

    Rare features with small weights barely change any score; dropping them keeps the shipped
    file small. Weights are rounded to 4 decimals.
    """
    order = np.argsort(-(np.abs(w) * mass), kind="stable")[:keep]
    return {names[j]: round(float(w[j]), 4) for j in order if abs(w[j]) >= 5e-4}


def _mass(X: Design) -> np.ndarray:
    return np.bincount(X.cols, weights=np.abs(X.vals), minlength=X.d)


def _augment(examples: list[Example]) -> list[dict[str, float]]:
    """Each example's features twice: as `name` (shared by all families) and as
    `family<SEP>name` (its family's own copy), plus the family's bias `family<SEP>`."""
    out = []
    for e in examples:
        f = dict(e.feats)
        f.update({e.family + _SEP + k: v for k, v in e.feats.items()})
        f[e.family + _SEP] = 1.0
        out.append(f)
    return out


def fit_experts(examples: list[Example], cfg: argparse.Namespace) -> tuple[LinearHead, list[LinearHead]]:
    """The shared head and one expert per family, as one logistic regression.

    What holds across families is learned once, from all the data, by the shared copies; the
    family copies (penalised `share` times harder, the family biases not at all) keep only the
    deviations their family's data insists on.
    """
    aug = _augment(examples)
    vocab = build_vocab(aug, cfg.min_df)
    names = list(vocab)
    owner = [n.split(_SEP, 1)[0] if _SEP in n else None for n in names]
    penalty = np.array([0.0 if n.endswith(_SEP) else (cfg.l2 * cfg.share if o else cfg.l2)
                        for n, o in zip(names, owner, strict=True)])
    X = Design(aug, vocab)
    sw = source_weights(examples) * np.array([FAMILY_WEIGHT[e.family] for e in examples])
    w, b = fit_logreg(X, np.array([e.label for e in examples]), sw, penalty)
    mass = _mass(X)
    shared_idx = [j for j, o in enumerate(owner) if o is None]
    shared = LinearHead(round(b, 4), _prune([names[j] for j in shared_idx], w[shared_idx], mass[shared_idx],
                                            cfg.prune))
    experts = []
    for family in FAMILIES:
        prefix = family + _SEP
        idx = [j for j, (n, o) in enumerate(zip(names, owner, strict=True)) if o == family and n != prefix]
        bias = float(w[vocab[prefix]]) if prefix in vocab else 0.0
        keys = [names[j][len(prefix):] for j in idx]
        experts.append(LinearHead(round(bias, 4), _prune(keys, w[idx], mass[idx], cfg.prune)))
    return shared, experts


def fit_gate(examples: list[Example], cfg: argparse.Namespace) -> tuple[LinearHead, ...]:
    """Multinomial logistic regression family <- features, every family the same total weight."""
    feats = [e.feats for e in examples]
    vocab = build_vocab(feats, cfg.min_df)
    names = list(vocab)
    X = Design(feats, vocab)
    fam = np.array([FAMILIES.index(e.family) for e in examples])
    counts = np.bincount(fam, minlength=len(FAMILIES))
    Wg, bg = fit_softmax(X, fam, len(FAMILIES), 1.0 / counts[fam], cfg.l2_gate)
    mass = _mass(X)
    return tuple(LinearHead(round(float(bg[j]), 4), _prune(names, Wg[j], mass, cfg.prune_gate))
                 for j in range(len(FAMILIES)))


def train(examples: list[Example], cfg: argparse.Namespace) -> DifficultyEstimator:
    gate = fit_gate(examples, cfg)
    shared, experts = fit_experts(examples, cfg)
    est = DifficultyEstimator(families=FAMILIES, gate=gate, experts=tuple(experts), shared=shared)
    scores = np.array([est.score(e.text, e.turns) for e in examples])
    return DifficultyEstimator(families=FAMILIES, gate=gate, experts=tuple(experts), shared=shared,
                               reference=round(float(np.median(scores)), 4))
