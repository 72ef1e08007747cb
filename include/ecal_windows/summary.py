"""Dataset summary: windows per flavour and eta region, a few control plots (spec §8 dataset)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from include.core import atomic
from include.ecal_windows.geometry import EB_EDGE

REGIONS = (("EB", 0.0, EB_EDGE), ("EE_low", EB_EDGE, 2.0), ("EE_high", 2.0, np.inf))
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
        "plots": _plots(out_dir, ak.to_numpy(seed["et_seed"]), ak.to_numpy(seed["seed_eta"]), ncls, insc, matched),
        **(extra or {}),
    }
    atomic.write_json(out_dir / "summary.json", summary)
    return summary


def _plots(out_dir: Path, et: np.ndarray, eta: np.ndarray, ncls, insc, matched) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    specs = [
        ("seed_et.png", "raw seed Et [GeV]", et, np.geomspace(0.5, 500, 40), True),
        ("seed_eta.png", "seed eta", eta, np.linspace(-3.1, 3.1, 63), False),
        ("ncls.png", "clusters per window", ncls, np.arange(0.5, max(int(ncls.max(initial=1)), 10) + 1.5), False),
    ]
    for name, label, values, bins, logx in specs:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(values[matched], bins=bins, histtype="step", label="calo matched")
        ax.hist(values[~matched], bins=bins, histtype="step", label="not matched")
        if logx:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("windows")
        ax.legend()
        fig.tight_layout()
        with atomic.atomic_path(out_dir / name) as tmp:
            fig.savefig(tmp, format="png", dpi=80, metadata={"Software": None})
        plt.close(fig)
        made.append(str(out_dir / name))
    return made
