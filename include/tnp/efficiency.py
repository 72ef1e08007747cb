"""Cut-and-count efficiencies with Clopper–Pearson intervals (spec §4).

ε = P / (P + F) on the values *including* flow bins (NaN, i.e. an empty bin, becomes 0); the
errors use k = P and n = P + F *without* flow bins. An empty bin's error is NaN, as in the
reference tool; consumers must treat NaN errors as "no measurement".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import beta

COVERAGE = 0.6826894921370859  # 1 sigma


def clopper_pearson(k: np.ndarray, n: np.ndarray, coverage: float = COVERAGE) -> tuple[np.ndarray, np.ndarray]:
    """Central Clopper–Pearson interval (lo, hi) for k successes out of n (NaN where n == 0)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k == 0, 0.0, beta.ppf((1 - coverage) / 2, k, n - k + 1))
        hi = np.where(k == n, 1.0, beta.ppf((1 + coverage) / 2, k + 1, n - k))
    empty = n == 0
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


def cut_and_count(passing: Any, other: Any, denominator_type: str = "failing") -> dict[str, np.ndarray]:
    """Efficiency and asymmetric errors per bin from two hist.Hist (failing or total denominator)."""
    if denominator_type not in ("failing", "total"):
        raise ValueError(f"denominator_type must be 'failing' or 'total', not {denominator_type!r}")
    p_flow, p = passing.values(flow=True), passing.values()
    o_flow, o = other.values(flow=True), other.values()
    total_flow = p_flow + o_flow if denominator_type == "failing" else o_flow
    total = p + o if denominator_type == "failing" else o
    with np.errstate(invalid="ignore", divide="ignore"):
        eff_flow = np.nan_to_num(p_flow / total_flow, nan=0.0)
    inner = tuple(slice(1 if ax.traits.underflow else 0, -1 if ax.traits.overflow else None) for ax in passing.axes)
    eff = eff_flow[inner]
    lo, hi = clopper_pearson(p, total)
    return {"efficiency": eff, "err_low": eff - lo, "err_high": hi - eff, "passing": p, "total": total}


def efficiency_table(passing: Any, failing: Any) -> dict[str, Any]:
    """A JSON-able record of a 1D or ND efficiency (edges per axis, values as nested lists)."""
    result = cut_and_count(passing, failing)

    def clean(a: np.ndarray) -> list:
        return np.where(np.isnan(a), None, a).tolist()

    return {
        "axes": [{"name": ax.name, "edges": [float(e) for e in ax.edges]} for ax in passing.axes],
        **{key: clean(np.asarray(value, dtype=float)) for key, value in result.items()},
    }


def scale_factors(data: dict[str, np.ndarray], mc: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Data/MC scale factors of matching bins (outputs of :func:`cut_and_count`).

    The error is the quadrature sum of the relative errors, each the mean of its low and high
    Clopper–Pearson errors; bins where the MC efficiency is 0 give NaN.
    """
    if np.shape(data["efficiency"]) != np.shape(mc["efficiency"]):
        raise ValueError("data and MC efficiencies have different binnings")
    with np.errstate(invalid="ignore", divide="ignore"):
        sf = np.where(mc["efficiency"] > 0, data["efficiency"] / mc["efficiency"], np.nan)
        rel_d = (data["err_low"] + data["err_high"]) / 2 / data["efficiency"]
        rel_m = (mc["err_low"] + mc["err_high"]) / 2 / mc["efficiency"]
    return {"scale_factor": sf, "error": np.abs(sf) * np.sqrt(rel_d**2 + rel_m**2)}
