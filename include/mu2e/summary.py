"""The campaign summary: ``summary.csv`` (the audit layout plus expectations), ``summary.json`` and a plot."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from include.core import atomic
from include.mu2e.normalizations import ALL_PROCESSES


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def write_summary(campaign_dir: str | Path, tag: str) -> dict[str, Any]:
    """``summary.csv`` (Dataset, Counts, fraction_sampled, fraction_expected, weight), plot and JSON."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    campaign_dir = Path(campaign_dir)
    validation = _load(campaign_dir / "validation.json")
    record = _load(campaign_dir / f"{tag}.json")
    observed, expected = validation["observed"], validation["expected"]
    total_obs, total_exp = sum(observed.values()), sum(expected.values())
    rows = []
    for p in ALL_PROCESSES:
        if p not in observed:
            continue
        rows.append(
            {
                "Dataset": record["processes"][p]["dataset"],
                "process": p,
                "Counts": observed[p],
                "expected": expected[p],
                "fraction_sampled": observed[p] / total_obs if total_obs else 0.0,
                "fraction_expected": expected[p] / total_exp if total_exp else 0.0,
                "weight": record["weights"][p],
            }
        )
    header = list(rows[0]) if rows else ["Dataset", "Counts", "fraction_sampled", "fraction_expected", "weight"]
    lines = [",".join(header)] + [",".join(_csv(r[h]) for h in header) for r in rows]
    atomic.write_text(campaign_dir / "summary.csv", "\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(8, 4))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["expected"] for r in rows], 0.4, label="expected (μ)")
    ax.bar([i + 0.2 for i in x], [r["Counts"] for r in rows], 0.4, label="sampled")
    ax.set_yscale("log")
    ax.set_xticks(list(x), [r["process"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel("events")
    ax.set_title(f"ensemble {tag}: χ² p = {validation['chi_square']['p_value']:.3f}")
    ax.legend()
    fig.tight_layout()
    with atomic.atomic_path(campaign_dir / "summary.png") as tmp:
        fig.savefig(tmp, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    summary = {
        "tag": tag,
        "beam": record["beam"],
        "rows": rows,
        "chi_square": validation["chi_square"],
        "events": total_obs,
        "unique_events": validation["unique_events"],
    }
    atomic.write_json(campaign_dir / "summary.json", summary)
    return {"events": total_obs, "p_value": validation["chi_square"]["p_value"]}


def _csv(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else "nan"
    return str(value)
