"""LOWESS smoothing (locally weighted linear regression with robustness iterations).

Same algorithm and parameters as ``statsmodels.nonparametric.lowess`` (frac, it, delta), written
with numpy so the production does not depend on statsmodels.
"""

from __future__ import annotations

import numpy as np


def _fit_points(x: np.ndarray, delta: float) -> np.ndarray:
    """Indices where a local regression is computed; the others are interpolated."""
    if delta <= 0:
        return np.arange(len(x))
    chosen = [0]
    last = x[0]
    for i in range(1, len(x)):
        if x[i] > last + delta:
            chosen.append(i)
            last = x[i]
    if chosen[-1] != len(x) - 1:
        chosen.append(len(x) - 1)
    return np.array(chosen)


def lowess(y: np.ndarray, x: np.ndarray, frac: float = 2 / 3, it: int = 3, delta: float = 0.0) -> np.ndarray:
    """Smoothed values at the sorted ``x``; returns ``(x_sorted, y_smoothed)`` stacked as (n, 2)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    n = len(x)
    if n < 2:
        return np.column_stack([x, y])
    k = min(n, max(2, int(frac * n + 1e-10)))
    fit_idx = _fit_points(x, delta)
    dist = np.abs(x[fit_idx, None] - x[None, :])  # (n_fit, n)
    h = np.partition(dist, k - 1, axis=1)[:, k - 1]
    h = np.where(h > 0, h, 1.0)
    with np.errstate(invalid="ignore"):
        local = np.clip(dist / (h[:, None] * 1.0000001), 0, 1)
    tricube = (1 - local**3) ** 3
    robust = np.ones(n)
    fitted = y.copy()
    for iteration in range(it + 1):
        w = tricube * robust[None, :]
        sw = w.sum(axis=1)
        sw = np.where(sw > 0, sw, 1.0)
        xm = (w * x).sum(axis=1) / sw
        ym = (w * y).sum(axis=1) / sw
        dx = x[None, :] - xm[:, None]
        var = (w * dx**2).sum(axis=1)
        cov = (w * dx * (y[None, :] - ym[:, None])).sum(axis=1)
        scale = np.abs(x).max() if n else 1.0
        slope = np.where(var > 1e-12 * (scale**2) * sw, cov / np.where(var > 0, var, 1.0), 0.0)
        at_fit = ym + slope * (x[fit_idx] - xm)
        fitted = np.interp(x, x[fit_idx], at_fit)
        if iteration == it:
            break
        resid = y - fitted
        s = np.median(np.abs(resid))
        if s <= 0:
            break
        u = np.clip(resid / (6 * s), -1, 1)
        robust = (1 - u**2) ** 2
    return np.column_stack([x, fitted])


def lowess_many(
    groups: list[tuple[np.ndarray, np.ndarray]], frac: float, it: int = 3, max_elements: int = 4_000_000
) -> list[np.ndarray]:
    """:func:`lowess` of many small series at once (each ``(x, y)``); returns ``(n, 2)`` arrays.

    Every point is a regression point (statsmodels' ``delta`` shortcut, a speed-up that
    interpolates between nearby points, is not applied). Series are batched by length.
    """
    results: list[np.ndarray | None] = [None] * len(groups)
    sizes = np.array([len(x) for x, _ in groups])
    order = np.argsort(sizes, kind="stable")
    start = 0
    while start < len(order):
        n = max(int(sizes[order[start]]), 1)
        stop = start
        while stop < len(order) and (stop - start + 1) * int(sizes[order[stop]]) ** 2 <= max_elements:
            stop += 1
        stop = max(stop, start + 1)
        batch = order[start:stop]
        n = int(sizes[batch].max())
        for i, res in zip(batch, _lowess_batch([groups[i] for i in batch], n, frac, it), strict=True):
            results[i] = res
        start = stop
    return results  # type: ignore[return-value]


def _lowess_batch(groups: list[tuple[np.ndarray, np.ndarray]], n: int, frac: float, it: int) -> list[np.ndarray]:
    b = len(groups)
    x = np.full((b, n), np.nan)
    y = np.full((b, n), np.nan)
    for i, (gx, gy) in enumerate(groups):
        gx, gy = np.asarray(gx, float), np.asarray(gy, float)
        ok = np.isfinite(gx) & np.isfinite(gy)
        o = np.argsort(gx[ok], kind="stable")
        x[i, : ok.sum()] = gx[ok][o]
        y[i, : ok.sum()] = gy[ok][o]
    valid = np.isfinite(x)
    counts = valid.sum(axis=1)
    k = np.clip((frac * counts + 1e-10).astype(int), 2, np.maximum(counts, 2))
    xs = np.where(valid, x, 0.0)
    ys = np.where(valid, y, 0.0)
    dist = np.abs(xs[:, :, None] - xs[:, None, :])  # (b, fit point, sample)
    dist_sorted = np.sort(np.where(valid[:, None, :], dist, np.inf), axis=2)
    h = np.take_along_axis(dist_sorted, (np.minimum(k, n) - 1)[:, None, None], axis=2)[:, :, 0]
    h = np.where(np.isfinite(h) & (h > 0), h, 1.0)
    local = np.clip(dist / (h[:, :, None] * 1.0000001), 0, 1)
    tricube = np.where(valid[:, None, :], (1 - local**3) ** 3, 0.0)
    robust = valid.astype(float)
    fitted = ys
    frozen = np.zeros((b, 1), bool)  # series whose residual median hit 0 keep their last fit
    for iteration in range(it + 1):
        w = tricube * robust[:, None, :]
        sw = w.sum(axis=2)
        sw1 = np.where(sw > 0, sw, 1.0)
        xm = (w * xs[:, None, :]).sum(axis=2) / sw1
        ym = (w * ys[:, None, :]).sum(axis=2) / sw1
        dx = xs[:, None, :] - xm[:, :, None]
        var = (w * dx**2).sum(axis=2)
        cov = (w * dx * (ys[:, None, :] - ym[:, :, None])).sum(axis=2)
        scale = np.abs(xs).max(axis=1, keepdims=True) ** 2
        slope = np.where(var > 1e-12 * scale * sw1, cov / np.where(var > 0, var, 1.0), 0.0)
        fitted = np.where(frozen, fitted, ym + slope * (xs - xm))
        if iteration == it:
            break
        resid = np.where(valid, ys - fitted, np.nan)
        s = np.nanmedian(np.abs(resid), axis=1, keepdims=True)
        frozen |= ~(s > 0)
        if frozen.all():
            break
        u = np.clip(np.where(valid, ys - fitted, 0.0) / np.where(s > 0, 6 * s, np.inf), -1, 1)
        robust = np.where(valid, (1 - u**2) ** 2, 0.0)
    return [np.column_stack([x[i, : counts[i]], fitted[i, : counts[i]]]) for i in range(b)]
