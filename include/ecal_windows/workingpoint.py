"""Sim-fraction working point (spec §4): minimum score by raw seed Et and |seed eta|.

The default format is a correctionlib schema-v2 JSON with one ``multibinning`` correction
``simfraction_thres`` (inputs ``seed_et``, ``seed_eta``; ``flow: "clamp"``). It is validated and
evaluated with correctionlib when that package is importable; the same table is also evaluated
here with numpy (bins include the lower edge, clamp outside), which is what the window code uses.
The legacy ``root_th2`` format is a TH2F ``h2_Minimum_simScore_seedBins`` (x = Et, y = |eta|).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from include.core import atomic
from include.core.errors import InputFileError
from include.core.fingerprint import sha256_file

CORRECTION_NAME = "simfraction_thres"
TH2_NAME = "h2_Minimum_simScore_seedBins"
FORMATS = ("correctionlib", "root_th2")

RUN3_ET_EDGES = (1, 4, 10, 15, 25, 40, 50, 70, 100, 150, 200, 300, 500)
RUN3_ETA_EDGES = (0, 0.2, 0.4, 0.7, 1.0, 1.15, 1.3, 1.4442, 1.566, 1.75, 2.0, 2.4, 3.0)


@dataclass(frozen=True)
class WorkingPoint:
    """A 2D threshold table: ``values[i_et, i_eta]``."""

    et_edges: np.ndarray
    eta_edges: np.ndarray
    values: np.ndarray
    source: str = ""
    sha256: str = ""

    def __post_init__(self) -> None:
        shape = (len(self.et_edges) - 1, len(self.eta_edges) - 1)
        if self.values.shape != shape:
            raise ValueError(f"working point: values shape {self.values.shape} != bins {shape}")
        for name, edges in (("seed_et", self.et_edges), ("seed_eta", self.eta_edges)):
            if len(edges) < 2 or np.any(np.diff(edges) <= 0):
                raise ValueError(f"working point: {name} edges are not increasing")

    def threshold(self, seed_et: np.ndarray, seed_abs_eta: np.ndarray) -> np.ndarray:
        """Minimum sim fraction at raw seed Et and |seed eta| (clamped to the edge bins)."""
        i = np.clip(np.searchsorted(self.et_edges, seed_et, side="right") - 1, 0, len(self.et_edges) - 2)
        j = np.clip(np.searchsorted(self.eta_edges, seed_abs_eta, side="right") - 1, 0, len(self.eta_edges) - 2)
        return self.values[i, j]


def correction_json(et_edges, eta_edges, values: np.ndarray, description: str = "") -> dict:
    """The correctionlib schema-v2 document of a threshold table (C order, Et slow)."""
    values = np.asarray(values, dtype=np.float64)
    return {
        "schema_version": 2,
        "description": description or "ECAL SuperCluster sim-fraction working point",
        "corrections": [
            {
                "name": CORRECTION_NAME,
                "description": "minimum sim fraction of a cluster by raw seed Et and |seed eta|",
                "version": 1,
                "inputs": [
                    {"name": "seed_et", "type": "real", "description": "raw seed Et (GeV)"},
                    {"name": "seed_eta", "type": "real", "description": "|seed eta|"},
                ],
                "output": {"name": "weight", "type": "real", "description": "minimum sim fraction"},
                "data": {
                    "nodetype": "multibinning",
                    "inputs": ["seed_et", "seed_eta"],
                    "edges": [list(map(float, et_edges)), list(map(float, eta_edges))],
                    "content": [float(v) for v in values.ravel()],
                    "flow": "clamp",
                },
            }
        ],
    }


def write_correction(path: Path, et_edges, eta_edges, values: np.ndarray, description: str = "") -> Path:
    """Write a working point as correctionlib JSON (atomically)."""
    return atomic.write_text(path, json.dumps(correction_json(et_edges, eta_edges, values, description), indent=1))


def _from_correctionlib(path: Path) -> WorkingPoint:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"not a readable JSON working point ({exc})") from exc
    try:
        import correctionlib.schemav2 as cs

        cs.CorrectionSet.model_validate(doc)
    except ImportError:
        pass
    except Exception as exc:
        raise InputFileError(path, f"not a valid correctionlib schema-v2 document: {exc}") from exc
    found = [c for c in doc.get("corrections", []) if c.get("name") == CORRECTION_NAME]
    if not found:
        raise InputFileError(path, f"no correction named {CORRECTION_NAME!r}")
    corr = found[0]
    data = corr.get("data", {})
    names = [i.get("name") for i in corr.get("inputs", [])]
    if data.get("nodetype") != "multibinning" or data.get("inputs") != ["seed_et", "seed_eta"]:
        raise InputFileError(path, "expected a multibinning node over inputs ['seed_et', 'seed_eta']")
    if names != ["seed_et", "seed_eta"] or data.get("flow") != "clamp":
        raise InputFileError(path, "inputs must be seed_et, seed_eta and flow must be 'clamp'")
    et_edges, eta_edges = (np.asarray(e, dtype=np.float64) for e in data["edges"])
    content = np.asarray(data["content"], dtype=np.float64)
    shape = (len(et_edges) - 1, len(eta_edges) - 1)
    if content.size != shape[0] * shape[1]:
        raise InputFileError(path, f"content has {content.size} values, bins need {shape[0] * shape[1]}")
    return WorkingPoint(et_edges, eta_edges, content.reshape(shape), str(path), sha256_file(path))


def _from_root_th2(path: Path) -> WorkingPoint:
    import uproot

    try:
        hist = uproot.open(path)[TH2_NAME]
        values = np.asarray(hist.values(flow=False), dtype=np.float64)
        x_edges, y_edges = hist.axis(0).edges(), hist.axis(1).edges()
    except Exception as exc:
        raise InputFileError(path, f"cannot read TH2 {TH2_NAME!r}: {exc}") from exc
    return WorkingPoint(np.asarray(x_edges), np.asarray(y_edges), values, str(path), sha256_file(path))


def load_working_point(path: str | Path, fmt: str = "correctionlib") -> WorkingPoint:
    """Read a working-point file in ``fmt`` (``correctionlib`` or ``root_th2``)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "working-point file does not exist")
    if fmt == "correctionlib":
        return _from_correctionlib(path)
    if fmt == "root_th2":
        return _from_root_th2(path)
    raise InputFileError(path, f"unknown working-point format {fmt!r}; use one of {FORMATS}")


def evaluate_with_correctionlib(path: str | Path, seed_et: np.ndarray, seed_abs_eta: np.ndarray) -> np.ndarray:
    """Evaluate the file with correctionlib itself (for cross-checks; needs the package)."""
    import correctionlib

    corr = correctionlib.CorrectionSet.from_file(str(path))[CORRECTION_NAME]
    return np.asarray(corr.evaluate(np.asarray(seed_et, dtype=np.float64), np.asarray(seed_abs_eta, dtype=np.float64)))


def demo_values(et_edges=RUN3_ET_EDGES, eta_edges=RUN3_ETA_EDGES, flavour: int = 11) -> np.ndarray:
    """A plausible threshold table: looser at low Et and in the endcaps (electrons looser than photons)."""
    et = 0.5 * (np.asarray(et_edges[:-1], float) + np.asarray(et_edges[1:], float))
    eta = 0.5 * (np.asarray(eta_edges[:-1], float) + np.asarray(eta_edges[1:], float))
    base = 0.02 if flavour == 11 else 0.04
    table = base + 0.25 * (1 - np.exp(-np.log(et)[:, None] / 3.0)) * (1 - 0.15 * eta[None, :])
    return np.round(np.clip(table, 0.01, 0.5), 4)
