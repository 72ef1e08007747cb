"""LOWESS smoothing (locally weighted linear regression with robustness iterations).

Same algorithm and parameters as ``statsmodels.nonparametric.lowess`` (frac, it, delta), written
with numpy so the production does not depend on statsmodels.
"""

from __future__ import annotations

import numpy as np


def fit_points(x: np.ndarray, delta: float) -> np.ndarray:
    """Indices into the sorted ``x`` where a local regression is computed; the others are interpolated.

    statsmodels' ``delta`` rule: from a fit point the next one is the last point within ``delta`` of it
    (at least the next larger x); points tied with a fit point share its fit; the last point is always
    fitted. ``delta <= 0``: every point.
    """
    n = len(x)
    if delta <= 0 or n < 2:
        return np.arange(n)
    last_tie = np.searchsorted(x, x, side="right") - 1
    beyond = np.minimum(np.searchsorted(x, x + delta, side="right"), n - 1)  # first x > x_i + delta
    step = np.maximum(beyond - 1, last_tie + 1).tolist()
    last_tie = last_tie.tolist()
    chosen = [0]
    while last_tie[chosen[-1]] < n - 1:
        chosen.append(step[chosen[-1]])
    return np.array(chosen)


def _sorted_finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    order = np.argsort(x[ok], kind="stable")
    return x[ok][order], y[ok][order]


def lowess(y: np.ndarray, x: np.ndarray, frac: float = 2 / 3, it: int = 3, delta: float = 0.0) -> np.ndarray:
    """Smoothed values at the sorted ``x``; returns ``(x_sorted, y_smoothed)`` stacked as (n, 2)."""
    x, y = _sorted_finite(x, y)
    n = len(x)
    if n < 2:
        return np.column_stack([x, y])
    k = min(n, max(2, int(frac * n + 1e-10)))
    fit_idx = fit_points(x, delta)
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
    groups: list[tuple[np.ndarray, np.ndarray]],
    frac: float,
    it: int = 3,
    delta: float = 0.0,
    max_elements: int = 4_000_000,
) -> list[np.ndarray]:
    """:func:`lowess` of many series at once (each ``(x, y)``, same ``delta``); returns ``(n, 2)`` arrays.

    Regressions only at each series' :func:`fit_points`, linear interpolation in between. Series are
    batched by length so that a batch's (series, fit point, sample) arrays hold at most ``max_elements``.
    """
    prepared = [_sorted_finite(x, y) for x, y in groups]
    results: list[np.ndarray | None] = [None] * len(groups)
    todo = []
    for i, (x, y) in enumerate(prepared):
        if len(x) < 2:
            results[i] = np.column_stack([x, y])
        else:
            todo.append(i)
    fits = {i: fit_points(prepared[i][0], delta) for i in todo}
    size = [len(x) for x, _ in groups]  # padded width, non-finite samples included
    rows = {i: size[i] if len(fits[i]) == len(prepared[i][0]) else len(fits[i]) for i in todo}  # as _lowess_batch
    todo.sort(key=lambda i: size[i])
    start = 0
    while start < len(todo):
        stop, n_fit = start, 0
        while stop < len(todo):
            n_fit = max(n_fit, rows[todo[stop]])
            if (stop - start + 1) * n_fit * size[todo[stop]] > max_elements:
                break
            stop += 1
        stop = max(stop, start + 1)
        batch = todo[start:stop]
        width = max(size[i] for i in batch)
        out = _lowess_batch([(*prepared[i], fits[i]) for i in batch], width, frac, it)
        for i, res in zip(batch, out, strict=True):
            results[i] = res
        start = stop
    return results  # type: ignore[return-value]


def _lowess_batch(
    series: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n: int, frac: float, it: int
) -> list[np.ndarray]:
    """Sorted finite ``(x, y, fit indices)`` series padded to (series, n samples) and (series, fit point)."""
    b = len(series)
    dense = all(len(f) == len(sx) for sx, _, f in series)  # every sample a fit point (delta = 0)
    m = n if dense else max(len(f) for _, _, f in series)
    x = np.full((b, n), np.nan)
    y = np.full((b, n), np.nan)
    fit = np.zeros((b, m), int)
    lo = np.zeros((b, n), int)  # fit points bracketing each sample, for the interpolation
    hi = np.zeros((b, n), int)
    for i, (sx, sy, f) in enumerate(series):
        x[i, : len(sx)], y[i, : len(sx)] = sx, sy
        fit[i, : len(f)], fit[i, len(f) :] = f, f[-1]
        lo[i, : len(sx)] = np.searchsorted(sx[f], sx, side="right") - 1
        hi[i, : len(sx)] = np.minimum(lo[i, : len(sx)] + 1, len(f) - 1)
    valid = np.isfinite(x)
    counts = valid.sum(axis=1)
    k = np.clip((frac * counts + 1e-10).astype(int), 2, np.maximum(counts, 2))
    xs = np.where(valid, x, 0.0)
    ys = np.where(valid, y, 0.0)
    xf = np.take_along_axis(xs, fit, axis=1)
    dist = np.abs(xf[:, :, None] - xs[:, None, :])  # (b, fit point, sample)
    kth = np.minimum(k, n) - 1
    dist_part = np.partition(np.where(valid[:, None, :], dist, np.inf), np.unique(kth), axis=2)
    h = np.take_along_axis(dist_part, kth[:, None, None], axis=2)[:, :, 0]
    del dist_part
    h = np.where(np.isfinite(h) & (h > 0), h, 1.0)
    local = np.clip(dist / (h[:, :, None] * 1.0000001), 0, 1)
    del dist
    tricube = np.where(valid[:, None, :], (1 - local**3) ** 3, 0.0)
    del local
    if not dense:
        x_lo, x_hi = np.take_along_axis(xf, lo, axis=1), np.take_along_axis(xf, hi, axis=1)
        offset = xs - x_lo
        span = np.where(hi > lo, x_hi - x_lo, 1.0)
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
        at_fit = ym + slope * (xf - xm)
        if not dense:  # as np.interp: slope of the segment times the offset from its left end
            f_lo, f_hi = np.take_along_axis(at_fit, lo, axis=1), np.take_along_axis(at_fit, hi, axis=1)
            at_fit = (f_hi - f_lo) / span * offset + f_lo
        fitted = np.where(frozen, fitted, at_fit)
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
