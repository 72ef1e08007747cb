"""Event corrections and filters from files named in the configuration: golden-JSON luminosity
mask, pileup weights (correctionlib JSON, or data histogram + MC profile) and ``extra_filter``."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from include.core.errors import ConfigError, InputFileError
from include.core.paths import resolve_inside


def lumi_mask(golden_json: str | Path) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``mask(run, lumi)``: True for (run, lumi section) pairs certified in the golden JSON."""
    try:
        ranges = {
            int(run): np.asarray(r, dtype=np.int64) for run, r in json.loads(Path(golden_json).read_text()).items()
        }
    except (OSError, ValueError, TypeError) as exc:
        raise InputFileError(golden_json, f"not a golden JSON ({exc})") from exc

    def mask(run: np.ndarray, lumi: np.ndarray) -> np.ndarray:
        run, lumi = np.asarray(run, dtype=np.int64), np.asarray(lumi, dtype=np.int64)
        out = np.zeros(len(run), dtype=bool)
        for r in np.unique(run):
            if int(r) not in ranges or len(ranges[int(r)]) == 0:
                continue
            sel = run == r
            lo, hi = ranges[int(r)][:, 0], ranges[int(r)][:, 1]
            ls = lumi[sel][:, None]
            out[sel] = np.any((ls >= lo) & (ls <= hi), axis=1)
        return out

    return mask


def pileup_weight(metadata: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray] | None:
    """PU weight function of ``Pileup_nTrueInt`` from the dataset metadata, or None."""
    if metadata.get("pileupJSON"):
        import correctionlib

        path = metadata["pileupJSON"]
        try:
            cset = correctionlib.CorrectionSet.from_file(str(path))
        except Exception as exc:
            raise InputFileError(path, f"not a correctionlib JSON ({exc})") from exc
        corr = cset[next(iter(cset.keys()))]
        extra = ["nominal"] if len(corr.inputs) > 1 else []
        return lambda n: np.asarray(corr.evaluate(np.asarray(n, dtype=float), *extra), dtype=float)
    if metadata.get("pileupData") and metadata.get("pileupMC") is not None:
        import uproot

        try:
            with uproot.open(metadata["pileupData"]) as f:
                name = next(k for k, c in f.classnames().items() if c.startswith("TH1"))
                data, edges = f[name].to_numpy()
        except Exception as exc:
            raise InputFileError(metadata["pileupData"], f"no readable pileup histogram ({exc})") from exc
        mc = np.asarray(metadata["pileupMC"], dtype=float)
        n = min(len(data), len(mc))
        data = data[:n] / data[:n].sum()
        mc = mc[:n] / mc[:n].sum()
        ratio = np.divide(data, mc, out=np.zeros(n), where=mc > 0)

        def weight(ntrue: np.ndarray) -> np.ndarray:
            idx = np.clip(np.digitize(np.asarray(ntrue, dtype=float), edges[: n + 1]) - 1, 0, n - 1)
            return ratio[idx]

        return weight
    return None


def load_extra_filter(spec: str | None, data_root: Path) -> Callable[..., Any] | None:
    """``"path/file.py::func"`` (the file inside the data root) as a callable, or None."""
    if not spec:
        return None
    path_text, _, func = spec.partition("::")
    path = resolve_inside(path_text, [data_root], "extra_filter", must_exist=True)
    module_spec = importlib.util.spec_from_file_location(f"tnp_extra_filter_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"extra_filter: cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not callable(getattr(module, func, None)):
        raise ConfigError(f"extra_filter: {path} has no function {func!r}")
    return getattr(module, func)
