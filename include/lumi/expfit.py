"""Exponential fits y = a·exp(b·t) of many columns at once (spec §7.6).

Least squares by Levenberg-Marquardt from the initial guess (a, b) = (1, 1), vectorised over
columns. t is in hours since the start of stable beams and y is pre-scaled to O(1) by the caller.
Columns with NaN input, too few points or no convergence give NaN (never an exception).
"""

from __future__ import annotations

import numpy as np

MAX_ITER = 300


def fit_exp(t_h: np.ndarray, y: np.ndarray, p0: tuple[float, float] = (1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Fit each column of ``y`` (T × n) against ``t_h`` (T); return ``(a, b)`` arrays of length n."""
    t = np.asarray(t_h, dtype=float)[:, None]
    y = np.atleast_2d(np.asarray(y, dtype=float).T).T
    n = y.shape[1]
    valid = np.all(np.isfinite(y), axis=0) & (len(t) >= 2)
    a = np.full(n, p0[0], dtype=float)
    b = np.full(n, p0[1], dtype=float)
    lam = np.full(n, 1e-3)
    yv = np.where(np.isfinite(y), y, 0.0)

    def cost(a_: np.ndarray, b_: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            r = yv - a_ * np.exp(b_ * t)
            return np.sum(r * r, axis=0)

    current = cost(a, b)
    done = ~valid
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(MAX_ITER):
            e = np.exp(b * t)
            r = yv - a * e
            ja, jb = e, a * t * e  # derivatives of the model
            aa, ab, bb = (ja * ja).sum(0), (ja * jb).sum(0), (jb * jb).sum(0)
            ga, gb = (ja * r).sum(0), (jb * r).sum(0)
            aa_l, bb_l = aa * (1 + lam), bb * (1 + lam)
            det = aa_l * bb_l - ab * ab
            da = (bb_l * ga - ab * gb) / det
            db = (aa_l * gb - ab * ga) / det
            trial = cost(a + da, b + db)
            better = np.isfinite(trial) & (trial <= current) & np.isfinite(da) & np.isfinite(db)
            step = better & ~done
            small = step & (np.abs(da) <= 1e-10 * (np.abs(a) + 1e-10)) & (np.abs(db) <= 1e-10 * (np.abs(b) + 1e-10))
            a = np.where(step, a + da, a)
            b = np.where(step, b + db, b)
            rel = np.where(step, (current - trial) / np.maximum(current, 1e-300), 1.0)
            current = np.where(step, trial, current)
            lam = np.where(better, lam / 10, lam * 10)
            done |= small | (step & (rel < 1e-14)) | (lam > 1e16)
            if done.all():
                break
    converged = done & valid & (lam <= 1e16) & np.isfinite(a) & np.isfinite(b)
    return np.where(converged, a, np.nan), np.where(converged, b, np.nan)


def fit_tau(
    t_s: np.ndarray, y: np.ndarray, t0: float, length_s: float | None, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """τ in s (3600/b, negative for decays) and init = a/scale, over [t0, t0+length] (None = all)."""
    t_h = (np.asarray(t_s, dtype=float) - t0) / 3600.0
    sel = np.ones(len(t_h), bool) if length_s is None else t_h <= length_s / 3600.0
    a, b = fit_exp(t_h[sel], np.asarray(y, dtype=float)[sel] * scale)
    with np.errstate(divide="ignore"):
        tau = np.where(b != 0, 3600.0 / b, np.inf)
    return np.where(np.isfinite(b), tau, np.nan), a / scale
