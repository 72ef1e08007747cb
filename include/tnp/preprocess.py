"""Preprocessing: check every input file is readable and split files into chunks of about equal entries.

Unreadable files are not fatal: they are reported (path, exception type, message) as in the
reference tool's read-error report, and left out of the chunks.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from include.tnp.config import Dataset

# isMC when the fileset does not say: NanoAOD has GenPart, Mini ntuples mcTrue, Nano ntuples Pileup_nTrueInt.
MC_MARKERS = {"nanoaod": ("GenPart_", "nGenPart"), "mini": ("mcTrue",), "nano": ("Pileup_nTrueInt",)}


def split_entries(n_entries: int, step: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``n_entries`` with ``ceil(n/step)`` chunks of about equal size."""
    if step <= 0:
        raise ValueError("chunk step must be positive")
    if n_entries <= 0:
        return []
    n_chunks = math.ceil(n_entries / step)
    edges = [i * n_entries // n_chunks for i in range(n_chunks + 1)]
    return list(itertools.pairwise(edges))


def inspect_file(path: str, tree: str, kind: str = "nanoaod") -> dict[str, Any]:
    """Open one file: entries and whether it looks like MC, or the read error."""
    import uproot

    try:
        with uproot.open(path) as handle:
            if tree not in handle:
                raise KeyError(f"no tree {tree!r} (found: {sorted(handle.keys(cycle=False))[:10]})")
            ttree = handle[tree]
            keys = ttree.keys()
            looks_mc = any(k.startswith(MC_MARKERS[kind]) for k in keys)
            return {"path": path, "tree": tree, "ok": True, "entries": int(ttree.num_entries), "looks_mc": looks_mc}
    except Exception as exc:  # any read problem is reported, not fatal
        return {"path": path, "tree": tree, "ok": False, "exception": type(exc).__name__, "message": str(exc)[:500]}


def preprocess(datasets: list[Dataset], step: int, kind: str = "nanoaod") -> list[dict[str, Any]]:
    """Per dataset (``kind``: nanoaod, mini or nano): good and bad files, isMC, and the chunks
    ``{index, file, tree, start, stop}``."""
    out = []
    for ds in datasets:
        files = [inspect_file(p, t, kind) for p, t in ds.files.items()]
        good = [f for f in files if f["ok"]]
        is_mc = ds.metadata.get("isMC")
        if is_mc is None:
            is_mc = bool(good and good[0]["looks_mc"])
        chunks = []
        for f in good:
            for start, stop in split_entries(f["entries"], step):
                chunks.append(
                    {"index": len(chunks), "file": f["path"], "tree": f["tree"], "start": start, "stop": stop}
                )
        out.append(
            {
                "name": ds.name,
                "folder": ds.folder,
                "is_mc": bool(is_mc),
                "metadata": ds.metadata,
                "files": [f for f in files if f["ok"]],
                "bad_files": [f for f in files if not f["ok"]],
                "entries": sum(f["entries"] for f in good),
                "chunks": chunks,
            }
        )
    return out
