"""Validation figures on held-out training prompts (routing-data/train/ only)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from domain.difficulty import DifficultyEstimator

from .data import Example


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
        members = [i for i, e in enumerate(examples) if e.family == f]
        picks.extend(rng.choice(members, per, replace=False).tolist())
    p = np.array(picks)
    mixed = apgr(s[p], 1 - lab[p], np.ones(len(p)))
    length = np.array([len(examples[i].text) for i in p], dtype=float)
    summary["mixed"] = mixed
    print(f"{'mixed (families balanced)':30s} {len(p):5d} {lab[p].mean():6.3f} {s[p].mean():6.3f}"
          f" {spearman(s[p], lab[p]):8.3f} {mixed:6.3f} {apgr(length, 1 - lab[p], np.ones(len(p))):8.3f}")
    return summary
