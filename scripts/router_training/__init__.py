"""Offline training of the router's difficulty estimator (see `scripts/train_router.py`).

- `data`: loading routing-data/train/ into labelled `Example`s (nothing from eval/);
- `fitting`: sparse design matrices and the numpy L-BFGS fitters;
- `model`: building a `DifficultyEstimator` from examples (gate, two-stage experts, pruning);
- `validate`: held-out figures (Spearman, APGR proxy, the length rule).
"""
