"""Sparse design matrices and the fitters (numpy only; deterministic: L-BFGS from fixed starts,
fixed iteration budget, no random numbers)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable

import numpy as np


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


def lbfgs(loss_grad: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray, iters: int) -> np.ndarray:
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
