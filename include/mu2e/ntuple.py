"""Flat ROOT ntuple inputs of the native mixer: layout, metadata and catalogue order.

Each input file (``dts.mu2e.<desc>.<conf>.<run>_<subrun>.root``) holds

* ``Events``: one entry per event with the numeric branches :data:`EVENT_BRANCHES`;
* ``SubRuns``: one entry per subrun with ``run``, ``subrun``, ``genCount`` (the generator count,
  ``GenEventCount.count()``) and ``liveTime`` (seconds, ``CosmicLivetime.liveTime()``; 0 for
  non-cosmic samples).

A JSON sidecar ``<file>.json`` with ``entries``, ``gen_count`` and ``livetime_s`` may replace the
``SubRuns`` tree (it is the fallback when the tree is absent). A dataset is a folder
``<data dir>/<dataset name>/`` whose files are taken in catalogue order (sorted by name).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from include.core.errors import InputFileError

EVENT_BRANCHES: dict[str, str] = {
    "run": "int32",
    "subrun": "int32",
    "event": "int32",
    "pdg": "int32",
    "energy": "float32",
    "time": "float32",
    "cos_theta": "float32",
}
SUBRUN_BRANCHES: dict[str, str] = {"run": "int32", "subrun": "int32", "genCount": "int64", "liveTime": "float64"}


@dataclass(frozen=True)
class FileInfo:
    """What the planner needs from one input file."""

    path: str
    entries: int
    gen_count: int
    livetime_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_ntuple(path: str | Path, events: dict[str, np.ndarray], subruns: dict[str, np.ndarray]) -> Path:
    """Write the two trees atomically (through :func:`include.core.atomic.atomic_path`)."""
    import uproot

    from include.core.atomic import atomic_path

    with atomic_path(path) as tmp, uproot.recreate(tmp) as out:
        out["Events"] = {k: np.asarray(events[k], dtype=t) for k, t in EVENT_BRANCHES.items()}
        out["SubRuns"] = {k: np.asarray(subruns[k], dtype=t) for k, t in SUBRUN_BRANCHES.items()}
    return Path(path)


def read_info(path: str | Path) -> FileInfo:
    """Entries, generator count and livetime of one file (``SubRuns`` tree, else the sidecar)."""
    import uproot

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "input file does not exist")
    try:
        with uproot.open(path) as f:
            if "Events" not in f:
                raise InputFileError(path, "no Events tree")
            entries = int(f["Events"].num_entries)
            if "SubRuns" in f:
                sub = f["SubRuns"].arrays(["genCount", "liveTime"], library="np")
                return FileInfo(str(path), entries, int(sub["genCount"].sum()), float(sub["liveTime"].sum()))
    except InputFileError:
        raise
    except Exception as exc:  # uproot raises many types on corrupt files
        raise InputFileError(path, f"unreadable ROOT file ({type(exc).__name__}: {exc})") from exc
    side = sidecar_path(path)
    try:
        meta = json.loads(side.read_text())
        return FileInfo(str(path), entries, int(meta["gen_count"]), float(meta.get("livetime_s", 0.0)))
    except FileNotFoundError:
        raise InputFileError(path, f"no SubRuns tree and no sidecar {side.name}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputFileError(side, f"malformed sidecar ({exc})") from exc


def read_entries(path: str | Path, start: int, stop: int) -> dict[str, np.ndarray]:
    """Entries ``[start, stop)`` of ``Events`` as numpy arrays."""
    import uproot

    try:
        with uproot.open(path) as f:
            return f["Events"].arrays(list(EVENT_BRANCHES), entry_start=start, entry_stop=stop, library="np")
    except Exception as exc:
        raise InputFileError(path, f"cannot read Events[{start}:{stop}] ({type(exc).__name__}: {exc})") from exc


def dataset_files(dataset_dir: str | Path) -> list[Path]:
    """The ``.root`` files of a dataset folder in catalogue order (by name)."""
    folder = Path(dataset_dir)
    if not folder.is_dir():
        raise InputFileError(folder, "dataset folder does not exist")
    return sorted(p for p in folder.iterdir() if p.suffix == ".root" and not p.name.startswith("."))
