"""Dataset summary: windows per flavour and eta region, a few control plots (spec §8 dataset).

The control plots (``seed_et.png``, ``seed_eta.png``, ``ncls.png``) draw the calo-matched and
the not-matched windows as two step histograms; a class without windows is neither drawn nor in
the legend. The title names the sample (flavour) and gives the counts, including windows outside
the axis range.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from include.core import atomic
from include.ecal_windows.geometry import EB_EDGE

REGIONS = (("EB", 0.0, EB_EDGE), ("EE_low", EB_EDGE, 2.0), ("EE_high", 2.0, np.inf))
FLAVOURS = {11: "electrons", 22: "photons"}
COLUMNS = [
    "window_metadata.flavour",
    "window_metadata.is_seed_calo_matched",
    "window_metadata.ncls",
    "window_metadata.nclusters_insc",
    "seed_features.seed_eta",
    "seed_features.et_seed",
    "cl_labels.in_scluster",
]


def region_of(abs_eta: np.ndarray) -> np.ndarray:
    """Region name per |seed eta|."""
    out = np.empty(abs_eta.shape, dtype=object)
    for name, lo, hi in REGIONS:
        out[(abs_eta >= lo) & (abs_eta < hi)] = name
    return out


def summarize(parquet_dir: str | Path, out_dir: str | Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Count windows per (flavour, region, matched) and write summary.json, counts.csv and plots."""
    import awkward as ak

    parquet_dir, out_dir = Path(parquet_dir), Path(out_dir)
    data = ak.from_parquet(parquet_dir, columns=COLUMNS)
    meta, seed = data["window_metadata"], data["seed_features"]
    flavour = ak.to_numpy(meta["flavour"]).astype(int)
    matched = ak.to_numpy(meta["is_seed_calo_matched"]).astype(bool)
    abs_eta = np.abs(ak.to_numpy(seed["seed_eta"]))
    region = region_of(abs_eta)
    rows = []
    for fl in sorted(set(flavour.tolist())):
        for name, _, _ in REGIONS:
            sel = (flavour == fl) & (region == name)
            rows.append(
                {
                    "flavour": fl,
                    "region": name,
                    "windows": int(sel.sum()),
                    "matched": int((sel & matched).sum()),
                    "unmatched": int((sel & ~matched).sum()),
                }
            )
    csv = "flavour,region,windows,matched,unmatched\n" + "".join(
        f"{r['flavour']},{r['region']},{r['windows']},{r['matched']},{r['unmatched']}\n" for r in rows
    )
    atomic.write_text(out_dir / "counts.csv", csv)
    ncls = ak.to_numpy(meta["ncls"])
    insc = ak.to_numpy(meta["nclusters_insc"])
    summary = {
        "windows": len(data),
        "matched": int(matched.sum()),
        "unmatched": int((~matched).sum()),
        "clusters": int(ncls.sum()),
        "clusters_in_supercluster": int(ak.sum(data["cl_labels"]["in_scluster"])),
        "mean_ncls": float(ncls.mean()) if len(ncls) else 0.0,
        "mean_nclusters_insc_matched": float(insc[matched].mean()) if matched.any() else 0.0,
        "per_flavour_region": rows,
        "plots": _plots(
            out_dir, ak.to_numpy(seed["et_seed"]), ak.to_numpy(seed["seed_eta"]), ncls, matched, sample_name(flavour)
        ),
        **(extra or {}),
    }
    atomic.write_json(out_dir / "summary.json", summary)
    return summary


def sample_name(flavour: np.ndarray) -> str:
    """The windows' flavour(s) in words: ``electrons``, ``photons`` or ``flavour <n>``."""
    names = [FLAVOURS.get(f, f"flavour {f}") for f in sorted(set(np.asarray(flavour).tolist()))]
    return ", ".join(names) or "no windows"


def plot_specs(
    et: np.ndarray, eta: np.ndarray, ncls: np.ndarray
) -> list[tuple[str, str, np.ndarray, np.ndarray, bool]]:
    """(file, x-axis label, values, bin edges, log x) of each control plot."""
    ncls_bins = np.arange(0.5, max(int(np.max(ncls, initial=1)), 10) + 1.5)
    return [
        ("seed_et.png", r"Raw seed $E_\mathrm{T}$ [GeV]", et, np.geomspace(0.5, 500, 40), True),
        ("seed_eta.png", r"Seed $\eta$", eta, np.linspace(-3.1, 3.1, 63), False),
        ("ncls.png", "Clusters per window", ncls, ncls_bins, False),
    ]


def control_figure(label: str, values: np.ndarray, bins: np.ndarray, logx: bool, matched: np.ndarray, sample: str):
    """Step histograms of the matched and the not-matched windows (only the classes that have any)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for sel, name, color in ((matched, "calo matched", "tab:blue"), (~matched, "not calo matched", "tab:orange")):
        if sel.any():
            ax.hist(values[sel], bins=bins, histtype="step", color=color, label=name)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("Windows per bin")
    title = f"{sample}: {len(values)} windows, {int(matched.sum())} calo matched"
    with np.errstate(invalid="ignore"):
        outside = int(np.count_nonzero(~((values >= bins[0]) & (values <= bins[-1]))))
    if outside:
        title += f", {outside} outside the axis"
    ax.set_title(title, fontsize=9)
    if len(values):
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no windows", transform=ax.transAxes, ha="center", va="center")
    fig.tight_layout()
    return fig


def _plots(
    out_dir: Path, et: np.ndarray, eta: np.ndarray, ncls: np.ndarray, matched: np.ndarray, sample: str
) -> list[str]:
    import matplotlib.pyplot as plt

    made = []
    for name, label, values, bins, logx in plot_specs(et, eta, ncls):
        fig = control_figure(label, values, bins, logx, matched, sample)
        with atomic.atomic_path(out_dir / name) as tmp:
            fig.savefig(tmp, format="png", dpi=80, metadata={"Software": None})
        plt.close(fig)
        made.append(str(out_dir / name))
    return made
