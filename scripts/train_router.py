#!/usr/bin/env python
"""Train the router's difficulty estimator on routing-data/train/ only and write its params.

    .venv/bin/python scripts/train_router.py [--data-dir ../shared/routing-data] [--out PATH]

Reads nothing from eval/. Deterministic: no random numbers in fitting (L-BFGS from fixed
starts, fixed iteration budget); a prompt is held out for validation when
sha1(prompt) % 5 == 0; the final model is refit on every row. Needs numpy (a dev dependency)
and nothing else; the shipped model is evaluated in pure Python by
`domain.difficulty.DifficultyEstimator`.

The pieces live in `scripts/router_training/`: `data` (labels), `fitting` (L-BFGS), `model`
(gate and experts) and `validate`. Prints validation figures on the held-out fifth
(per source: Spearman with the label and an APGR-style proxy with the source's own weak/strong
qualities; routerbench uses Mixtral -> GPT-4; "len APGR" is the prompt-length rule on the same
rows; "mixed" pools the families).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from router_training.data import RB_MODELS, load_all, rb_prompt, read_routerbench, stable_fold  # noqa: E402
from router_training.model import train  # noqa: E402
from router_training.validate import report  # noqa: E402

from domain.difficulty import FEATURE_VERSION, extract_features  # noqa: E402

__all__ = ["RB_MODELS", "rb_prompt", "read_routerbench"]  # used by scripts/eval_router.py

DEFAULT_DATA = (REPO / ".." / "shared" / "routing-data").resolve()
DEFAULT_OUT = REPO / "adapters" / "routing" / "difficulty_params.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--l2", type=float, default=5e-5)
    ap.add_argument("--l2-gate", type=float, default=1e-4)
    ap.add_argument("--share", type=float, default=1.0, help="L2 multiplier of the per-family copies")
    ap.add_argument("--min-df", type=int, default=3)
    ap.add_argument("--prune", type=int, default=8000, help="weights kept per expert / shared head")
    ap.add_argument("--prune-gate", type=int, default=3000, help="weights kept per gate head")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--no-final", action="store_true", help="validation only: skip the refit on every row")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    train_dir = args.data_dir / "train"
    t0 = time.time()
    examples = load_all(train_dir)
    for e in examples:
        e.feats = extract_features(e.text, e.turns)
    print(f"loaded {len(examples)} train prompts in {time.time() - t0:.1f}s")
    fit_rows = [e for e in examples if stable_fold(e.text) != 0]
    val_rows = [e for e in examples if stable_fold(e.text) == 0]
    est = train(fit_rows, args)
    report(est, val_rows, "validation (held-out fifth of train/, model fit on the other 4/5)")
    if args.no_final:
        return
    final = train(examples, args)
    n_weights = sum(len(h.weights) for h in (*final.gate, *final.experts, final.shared))
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
