"""The per-run summary: one row per fill (state, key numbers) and an overview figure.

Units of the table are in the column names (``_um``, ``_ns``, ``_h``, ``_cm2s``, ``_pb``).
``tau_lumi_meas_ATLAS_full_h`` is the fitted τ of L = a·exp(t/τ) over the full SB, in hours, as
stored by the fits (spec §7.6): **negative** for a decaying luminosity. The overview plots the
luminosity lifetime −τ_L (positive), as the legacy ``TotalLumiLifetime`` plot did (spec §10), and
its axis says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from include.core import atomic
from include.lumi import PRODUCTION
from include.lumi.products import FillProducts


def run_key(run_id: str) -> str:
    """A folder name from an Airflow run id (``manual__2026-01-01T00:00:00+00:00`` -> safe)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", run_id)[:128] or "run"


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def fill_row(output_root: Path, fill: int, run_id: str | None = None, require_massi: bool = False) -> dict[str, Any]:
    """Key numbers of one fill from its report and product JSON files (missing ones -> None).

    With ``run_id``, a report of another run counts as "not processed in this run"; with
    ``require_massi``, a fill without both Massi archives is not ok.
    """
    p = FillProducts(fill, output_root / PRODUCTION / f"fill_{fill}")
    report = _json(p.workdir / "report.json")
    if run_id is not None and report and report.get("run_id") not in (None, run_id):
        report = {}
    problems = [f"{s['step']}: {s['error']}" for s in report.get("steps", []) if s.get("state") == "failed"]
    if report.get("error"):
        problems.append(report["error"])
    if require_massi and report.get("missing_massi"):
        problems.append("Massi archive missing: " + ", ".join(report["missing_massi"]))
    if not report:
        problems.append("not processed in this run")
    sb = _json(p.sb_json).get("summary", {})
    calc, meas = _json(p.lumi_calc_json), _json(p.lumi_meas_json)
    fits = _json(p.fits_json).get("median", {})
    tau_b1 = (sb.get("intensity_lifetime_start_h") or {}).get("1")
    return {
        "fill": fill,
        "ok": bool(report.get("ok", False)) and not problems,
        "ran": ",".join(report.get("ran", [])),
        "failed": "; ".join(problems),
        "skip_massi": report.get("skip_massi"),
        "seconds": report.get("seconds"),
        "n_coll": sb.get("n_coll"),
        "emit_h_start_um": sb.get("emit_h_start_um"),
        "emit_v_start_um": sb.get("emit_v_start_um"),
        "intensity_start": sb.get("intensity_start"),
        "bl_4sigma_start_ns": sb.get("bl_4sigma_start_ns"),
        "intensity_lifetime_b1_h": tau_b1,
        "peak_calc_ATLAS_cm2s": calc.get("peak_total_ATLAS_cm2s"),
        "peak_meas_ATLAS_cm2s": meas.get("peak_total_ATLAS_cm2s"),
        "peak_meas_CMS_cm2s": meas.get("peak_total_CMS_cm2s"),
        "integrated_meas_ATLAS_pb": meas.get("integrated_ATLAS_pb"),
        "tau_lumi_meas_ATLAS_full_h": _hours(fits.get("ATLAS/tau_lumi_meas_coll_full")),
    }


def write_summary(output_root: Path, run_id: str, fills: list[int], params: dict[str, Any]) -> dict[str, Any]:
    """Write ``<output>/lumi_followup/runs/<run>/summary.{parquet,csv,json}`` and ``overview.png``."""
    folder = output_root / PRODUCTION / "runs" / run_key(run_id)
    require = bool(params.get("require_massi", False))
    table = pd.DataFrame([fill_row(output_root, f, run_id, require) for f in sorted(fills)])
    if table.empty:
        table = pd.DataFrame(columns=["fill", "ok", "failed"])
    with atomic.atomic_path(folder / "summary.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    with atomic.atomic_path(folder / "summary.csv") as tmp:
        table.to_csv(tmp, index=False)
    _overview(table, folder / "overview.png")
    failed = table[~table["ok"].astype(bool)] if len(table) else table
    result = {
        "run_id": run_id,
        "params": params,
        "fills": [int(f) for f in table["fill"]],
        "ok": int(len(table) - len(failed)),
        "failed": {int(r.fill): r.failed for r in failed.itertuples()},
        "folder": str(folder),
    }
    atomic.write_json(folder / "summary.json", result)
    return result


# (column, axis label, factor applied to the stored value, note under the axis)
OVERVIEW_PANELS = (
    ("peak_meas_ATLAS_cm2s", r"Peak luminosity, ATLAS measured [$10^{34}$ cm⁻²s⁻¹]", 1e-34, ""),
    ("integrated_meas_ATLAS_pb", "Integrated luminosity, ATLAS measured [pb⁻¹]", 1.0, ""),
    (
        "tau_lumi_meas_ATLAS_full_h",
        r"Luminosity lifetime $-\tau_L$, ATLAS full SB [h]",
        -1.0,
        "plotted: −1 × summary.csv tau_lumi_meas_ATLAS_full_h",
    ),
)


def overview_figure(table: pd.DataFrame) -> Any:
    """Bars per fill (blue: fill ok, red: failed or not processed); a missing value is marked "n/a"."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    fills = table["fill"].astype(int).astype(str).tolist() if len(table) else []
    ok = [bool(v) for v in table["ok"]] if "ok" in table else [False] * len(fills)
    x = np.arange(len(fills))
    colours = np.array(["tab:blue" if good else "tab:red" for good in ok], dtype=object)
    shown: set[str] = set()
    for ax, (col, label, scale, note) in zip(axes, OVERVIEW_PANELS, strict=True):
        stored = pd.to_numeric(table[col], errors="coerce") if col in table else pd.Series(np.nan, index=table.index)
        values = stored.to_numpy(dtype=float) * scale
        drawn = np.isfinite(values)
        ax.bar(x[drawn], values[drawn], color=list(colours[drawn]))
        shown.update(colours[drawn])
        for i in np.flatnonzero(~drawn):  # no value: say so instead of an empty slot
            ax.annotate("n/a", (x[i], 0), xytext=(0, 3), textcoords="offset points", ha="center", color=colours[i])
        ax.set_xticks(x, fills, rotation=45)
        ax.set_xlim(-0.6, max(len(fills), 1) - 0.4)
        ax.set(xlabel="Fill", ylabel=label)
        if note:
            ax.set_title(note, fontsize=9, color="dimgrey")
    legend = (("tab:blue", "fill ok"), ("tab:red", "fill failed or not processed"))
    handles = [Patch(color=c, label=lab) for c, lab in legend if c in shown]  # only colours that were drawn
    if handles:
        axes[0].legend(handles=handles, fontsize=9)
    if not all(ok):
        failed = [f for f, good in zip(fills, ok, strict=True) if not good]
        fig.text(0.01, 0.01, f"failed or not processed: {', '.join(failed)} (red)", fontsize=9, color="tab:red")
    fig.suptitle(f"Luminosity follow-up: {len(table)} fills")
    fig.tight_layout()
    return fig


def _overview(table: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = overview_figure(table)
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
