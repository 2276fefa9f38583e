#!/usr/bin/env python
"""Evaluate the built-in router on routing-data/eval/, following that folder's README.

    .venv/bin/python scripts/eval_router.py [--data-dir ../shared/routing-data] [--params PATH]
                                            [--plot docs/router_eval.png]

Measures only: nothing here is fitted or tuned on eval/. The router is the product code
(`domain.routing.Router` with the shipped estimator from `adapters.routing`).

RouteLLM two-model sets (MMLU, GSM8K, MT-Bench; contaminated prompts dropped): the router
chooses between the weak model (Mixtral-8x7B-Instruct, $0.24/Mtok) and the strong one
(gpt-4-1106-preview, $24.7/Mtok) while cost_bias sweeps 0 -> 1. For a fixed candidate pair the
router sends a prompt to the strong model exactly when logit(difficulty) exceeds a threshold
that falls continuously from +inf to -inf as cost_bias rises, so the decisions reachable by
the sweep are exactly the cuts of the prompts sorted by difficulty: the full-resolution curve
puts one point at every distinct difficulty (ties move together). The script also runs
`Router.choose` on sampled prompts and checks it makes the same decisions, and reports the
APGR of the curve traced by a 101-point cost_bias grid (coarser: straight lines between its
points). MT-Bench routes on
the first turn and scores the routed model by the mean judge score of both turns, as RouteLLM
does. PGR = (quality - weak) / (strong - weak); APGR = trapezoid area under PGR vs strong share
on [0, 1]; CPT(x) = the smallest strong share at which the (linearly interpolated) curve
reaches PGR = x. Baselines: random (mean APGR of 200 seeded random orders), prompt length
(longer -> strong), oracle (prompts where the strong model gains most first).

RouterBench slices (ARC-Challenge, MBPP, Winogrande): each model's quality prior is its
accuracy on the matching train/ slice and its price its mean recorded cost per query there
(train data). Test rows with a missing quality label are dropped (8 of 445 on ARC-Challenge,
none on the others). The router picks among the 11 models over a cost_bias grid; each point is the
mean recorded cost and mean quality on the test slice. AIQ = area under the non-decreasing
convex hull of the points, extended flat to the largest single-model cost, from the cheapest
point, divided by that largest cost (as RouterBench's calc_AIQ). Zero router = the hull of
the 11 single models. Also: random (prompt-blind, same model shares as ours at every
cost_bias), prompt length (length percentile used as the difficulty in the same router), and
oracle (per prompt argmax of correctness - lambda * cost, lambda swept).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from train_router import RB_MODELS, rb_prompt, read_routerbench  # noqa: E402

from adapters.routing import load_estimator  # noqa: E402
from domain.catalog import ModelInfo  # noqa: E402
from domain.routing import Router, RoutingInput  # noqa: E402

DEFAULT_DATA = (REPO / ".." / "shared" / "routing-data").resolve()
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"
GRID = np.concatenate([[0.0], np.linspace(0.0005, 0.9995, 1999), [1.0]])  # RouterBench sweep
PAIR_GRID = np.linspace(0.0, 1.0, 101)  # two-model sets: the cross-check through Router.rung


# ------------------------------------------------------------------------------ data


@dataclass
class PairSet:
    name: str
    prompts: list[str]
    weak: np.ndarray
    strong: np.ndarray


def _contaminated(path: Path) -> set[str]:
    return {json.loads(line)["eval_prompt"] for line in path.read_text().splitlines() if line.strip()}


def _truth(v: str) -> float:
    if v in ("True", "False"):
        return 1.0 if v == "True" else 0.0
    return float(v)


def load_mmlu(ev: Path) -> PairSet:
    drop = _contaminated(ev / "routellm/mmlu/contaminated_prompts.jsonl")
    prompts, weak, strong = [], [], []
    for path in sorted((ev / "routellm/mmlu/responses").glob("*.csv")):
        with path.open(newline="") as fh:
            for r in csv.DictReader(fh):
                if r["prompt"] in drop:
                    continue
                prompts.append(r["prompt"])
                weak.append(_truth(r[WEAK]))
                strong.append(_truth(r[STRONG]))
    return PairSet("MMLU", prompts, np.array(weak), np.array(strong))


def load_gsm8k(ev: Path) -> PairSet:
    drop = _contaminated(ev / "routellm/gsm8k/contaminated_prompts.jsonl")
    csv.field_size_limit(1 << 30)
    with (ev / "routellm/gsm8k/gsm8k_responses.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["prompt"] not in drop]
    return PairSet("GSM8K", [r["prompt"] for r in rows], np.array([_truth(r[WEAK]) for r in rows]),
                   np.array([_truth(r[STRONG]) for r in rows]))


def load_mt_bench(ev: Path) -> PairSet:
    base = ev / "routellm/mt_bench"
    drop = _contaminated(base / "contaminated_prompts.jsonl")
    questions = [json.loads(x) for x in (base / "question.jsonl").read_text().splitlines() if x.strip()]
    questions = [q for q in questions if q["turns"][0] not in drop and q["turns"][1] not in drop]
    scores: dict[tuple[int, str], list[float]] = {}
    for line in (base / "judgements.jsonl").read_text().splitlines():
        if line.strip():
            j = json.loads(line)
            scores.setdefault((int(j["question_id"]), j["model"]), []).append(float(j["score"]))
    weak = [float(np.mean(scores[(q["question_id"], WEAK)])) for q in questions]
    strong = [float(np.mean(scores[(q["question_id"], STRONG)])) for q in questions]
    return PairSet("MT-Bench", [q["turns"][0] for q in questions], np.array(weak), np.array(strong))


# ------------------------------------------------------------------------------ two-model metrics


def pgr_curve(score: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(strong share, PGR) at every cut of the prompts sorted by score, highest first."""
    n = len(score)
    order = np.argsort(-score, kind="stable")
    sc = score[order]
    cum = np.concatenate([[0.0], np.cumsum((strong - weak)[order])])
    cuts = [0] + [i for i in range(1, n) if sc[i] != sc[i - 1]] + [n]
    share = np.array(cuts, dtype=float) / n
    pgr = cum[cuts] / n / (strong.mean() - weak.mean())
    return share, pgr


def apgr(share: np.ndarray, pgr: np.ndarray) -> float:
    return float(np.trapezoid(pgr, share))


def cpt(share: np.ndarray, pgr: np.ndarray, target: float) -> float:
    for i in range(1, len(share)):
        if pgr[i] >= target:
            if pgr[i] == pgr[i - 1]:
                return float(share[i])
            t = (target - pgr[i - 1]) / (pgr[i] - pgr[i - 1])
            return float(share[i - 1] + max(0.0, min(1.0, t)) * (share[i] - share[i - 1]))
    return float("nan")


def grid_curve(router: Router, d: np.ndarray, weak: np.ndarray, strong: np.ndarray,
               models: list[ModelInfo]) -> tuple[np.ndarray, np.ndarray]:
    offsets = [off for _, off in router.thresholds(models)]
    share, pgr = [], []
    for b in PAIR_GRID:
        s = np.array([router.rung(offsets, float(x), float(b)) for x in d], dtype=float)
        share.append(s.mean())
        q = np.where(s > 0, strong, weak).mean()
        pgr.append((q - weak.mean()) / (strong.mean() - weak.mean()))
    return np.array(share), np.array(pgr)


# ------------------------------------------------------------------------------ RouterBench


def ndch(points: np.ndarray) -> np.ndarray:
    """Non-decreasing upper convex hull of (cost, quality) points, sorted by cost."""
    pts = sorted({(float(c), float(q)) for c, q in points})
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (p[0] - x1) <= (p[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(p)
    out = [hull[0]]
    for p in hull[1:]:
        if p[1] > out[-1][1]:
            out.append(p)
    return np.array(out)


def aiq(points: np.ndarray, max_cost: float) -> float:
    h = ndch(points)
    if h[-1, 0] < max_cost:
        h = np.vstack([h, [max_cost, h[-1, 1]]])
    return float(np.trapezoid(h[:, 1], h[:, 0]) / max_cost)


@dataclass
class Slice:
    name: str
    prompts: list[str]
    quality: np.ndarray  # (n, models)
    cost: np.ndarray  # (n, models)
    catalog: list[ModelInfo]


def load_slice(data: Path, name: str) -> Slice:
    train = read_routerbench(data / "train/routerbench" / f"{name}_train.csv")
    test = read_routerbench(data / "eval/routerbench" / f"{name}_test.csv")
    catalog = []
    for m in RB_MODELS:
        acc = float(np.mean([float(r[m]) for r in train]))
        price = float(np.mean([float(r[f"{m}|total_cost"]) for r in train])) * 1e6  # per query -> "per Mtok"
        catalog.append(ModelInfo(provider="routerbench", model=m, input_per_mtok=price, output_per_mtok=price,
                                 quality=acc))
    q = np.array([[float(r[m]) for m in RB_MODELS] for r in test])
    c = np.array([[float(r[f"{m}|total_cost"]) for m in RB_MODELS] for r in test])
    return Slice(name, [rb_prompt(r["prompt"]) for r in test], q, c, catalog)


def router_points(router: Router, sl: Slice, d: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    steps = router.thresholds(sl.catalog)
    offsets = [off for _, off in steps]
    col = np.array([sl.catalog.index(m) for m, _ in steps])
    pts, choices = [], []
    rows = np.arange(len(d))
    for b in GRID:
        pick = col[[router.rung(offsets, float(x), float(b)) for x in d]]
        pts.append((sl.cost[rows, pick].mean(), sl.quality[rows, pick].mean()))
        choices.append(pick)
    return np.array(pts), choices


def oracle_points(sl: Slice) -> np.ndarray:
    pts = []
    for lam in np.concatenate([[0.0], np.geomspace(1e-1, 1e5, 400)]):
        util = sl.quality - lam * sl.cost - 1e-9 * sl.cost  # ties -> cheaper
        pick = util.argmax(1)
        rows = np.arange(len(pick))
        pts.append((sl.cost[rows, pick].mean(), sl.quality[rows, pick].mean()))
    return np.array(pts)


# ------------------------------------------------------------------------------ main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--params", type=Path, default=None, help="difficulty params (default: the shipped file)")
    ap.add_argument("--plot", type=Path, default=REPO / "docs" / "router_eval.png")
    args = ap.parse_args()
    ev = args.data_dir / "eval"
    router = Router(load_estimator(args.params))
    est = router.estimator
    weak_m = ModelInfo("routellm", WEAK, input_per_mtok=0.24, output_per_mtok=0.24, quality=0.5)
    strong_m = ModelInfo("routellm", STRONG, input_per_mtok=24.7, output_per_mtok=24.7, quality=0.9)
    pair = [weak_m, strong_m]

    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    rows = []
    t0 = time.time()
    for ps in (load_mmlu(ev), load_gsm8k(ev), load_mt_bench(ev)):
        d = np.array([est.score(p) for p in ps.prompts])
        # the product decision path must agree with the threshold view on a sample
        for i in range(0, len(ps.prompts), max(1, len(ps.prompts) // 50)):
            for b in (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0):
                dec = router.choose(pair, RoutingInput(prompt=ps.prompts[i]), b)
                want = router.rung([-math.inf, 0.0], float(d[i]), b)
                assert (dec.model is strong_m) == (want == 1), (ps.name, i, b)
        ours = pgr_curve(d, ps.weak, ps.strong)
        grid = grid_curve(router, d, ps.weak, ps.strong, pair)
        length = pgr_curve(np.array([len(p) for p in ps.prompts], dtype=float), ps.weak, ps.strong)
        oracle = pgr_curve(ps.strong - ps.weak, ps.weak, ps.strong)
        rng = np.random.default_rng(0)
        rand = [apgr(*pgr_curve(rng.random(len(d)), ps.weak, ps.strong)) for _ in range(200)]
        curves[ps.name] = {"ours": ours, "length": length, "oracle": oracle, "grid": grid}
        rows.append((ps, ours, grid, length, oracle, float(np.mean(rand))))

    print(f"# Router evaluation on routing-data/eval ({time.time() - t0:.0f}s)\n")
    print("## RouteLLM sets (strong gpt-4-1106-preview $24.7/Mtok, weak Mixtral-8x7B $0.24/Mtok)\n")
    print("| set | n | weak q | strong q | ours APGR | ours CPT(50%) | ours CPT(80%) | ours APGR (cost_bias grid) "
          "| random APGR | length APGR | length CPT(50%) | length CPT(80%) | oracle APGR |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for ps, ours, grid, length, oracle, rand in rows:
        print(f"| {ps.name} | {len(ps.prompts)} | {ps.weak.mean():.3f} | {ps.strong.mean():.3f} "
              f"| **{apgr(*ours):.3f}** | {cpt(*ours, 0.5):.1%} | {cpt(*ours, 0.8):.1%} | {apgr(*grid):.3f} "
              f"| {rand:.3f} | {apgr(*length):.3f} | {cpt(*length, 0.5):.1%} | {cpt(*length, 0.8):.1%} "
              f"| {apgr(*oracle):.3f} |")

    print("\n## RouterBench slices (11 models; priors and prices from the train slices)\n")
    print("| slice | n | ours AIQ | zero router AIQ | random AIQ | length AIQ | oracle AIQ "
          "| best single model (q, $/query) |")
    print("|---|---|---|---|---|---|---|---|")
    rb_curves = {}
    for name in ("arc_challenge", "mbpp", "winograde"):
        sl = load_slice(args.data_dir, name)
        d = np.array([est.score(p) for p in sl.prompts])
        ours, choices = router_points(router, sl, d)
        singles = np.stack([sl.cost.mean(0), sl.quality.mean(0)], axis=1)
        max_cost = float(singles[:, 0].max())
        rand_pts = np.array([(sl.cost.mean(0)[c].mean(), sl.quality.mean(0)[c].mean()) for c in choices])
        train = read_routerbench(args.data_dir / "train/routerbench" / f"{name}_train.csv")
        train_len = np.sort([len(rb_prompt(r["prompt"])) for r in train])
        pct = (np.searchsorted(train_len, [len(p) for p in sl.prompts], side="right") + 0.5) / (len(train_len) + 1)
        length_pts, _ = router_points(router, sl, pct)
        oracle = oracle_points(sl)
        best = int(np.argmax(singles[:, 1]))
        print(f"| {name} | {len(sl.prompts)} | **{aiq(ours, max_cost):.4f}** | {aiq(singles, max_cost):.4f} "
              f"| {aiq(rand_pts, max_cost):.4f} | {aiq(length_pts, max_cost):.4f} | {aiq(oracle, max_cost):.4f} "
              f"| {RB_MODELS[best]} ({singles[best, 1]:.3f}, ${singles[best, 0]:.5f}) |")
        rb_curves[name] = {"ours": ours, "singles": singles, "length": length_pts, "oracle": oracle,
                           "random": rand_pts, "max_cost": max_cost}

    if args.plot:
        plot(curves, rb_curves, args.plot)
        print(f"\nplot: {args.plot.relative_to(REPO) if args.plot.is_relative_to(REPO) else args.plot}")


def plot(curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], rb: dict[str, dict[str, object]],
         path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 9.5))
    for ax, (name, c) in zip(axes[0], curves.items(), strict=True):
        ax.plot([0, 1], [0, 1], color="0.6", ls=":", label="random")
        for key, style, label in (("oracle", dict(color="0.3", ls="--"), "oracle"),
                                  ("length", dict(color="tab:orange"), "prompt length"),
                                  ("ours", dict(color="tab:blue", lw=2), "ours")):
            share, pgr = c[key]
            ax.plot(share, pgr, label=f"{label} (APGR {apgr(share, pgr):.3f})", **style)
        ax.axhline(0.5, color="0.85", lw=0.8)
        ax.axhline(0.8, color="0.85", lw=0.8)
        ax.set_title(f"{name}: PGR vs strong-model share")
        ax.set_xlabel("share of prompts sent to gpt-4-1106-preview")
        ax.set_ylabel("PGR")
        ax.set_xlim(0, 1)
        ax.legend(loc="lower right", fontsize=8)
    for ax, (name, c) in zip(axes[1], rb.items(), strict=True):
        max_cost = float(c["max_cost"])  # type: ignore[arg-type]
        singles = c["singles"]
        assert isinstance(singles, np.ndarray)
        ax.scatter(singles[:, 0], singles[:, 1], color="0.4", s=18, zorder=3, label="single models")
        for key, color, label in (("singles", "0.4", "zero router"), ("oracle", "0.2", "oracle"),
                                  ("length", "tab:orange", "prompt length"), ("ours", "tab:blue", "ours")):
            pts = c[key]
            assert isinstance(pts, np.ndarray)
            h = ndch(pts)
            h = np.vstack([h, [max_cost, h[-1, 1]]]) if h[-1, 0] < max_cost else h
            ls = "--" if key in ("singles", "oracle") else "-"
            ax.plot(h[:, 0], h[:, 1], color=color, ls=ls, label=f"{label} (AIQ {aiq(pts, max_cost):.3f})")
        ours = c["ours"]
        assert isinstance(ours, np.ndarray)
        ax.scatter(ours[:, 0], ours[:, 1], color="tab:blue", s=3, alpha=0.4)
        ax.set_xscale("log")
        ax.set_title(f"RouterBench {name}: cost vs quality")
        ax.set_xlabel("mean cost per query (USD, log)")
        ax.set_ylabel("mean quality")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
