"""File names of a fill's products and loading them back (parquet tables + JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from include.lumi.sb import BeamSB, SBResult
from include.lumi.tables import matrices, read_json, read_parquet

SB_COLUMNS = ["eh", "ev", "eh_raw", "ev_raw", "intensity", "bl_m"]


@dataclass(frozen=True)
class FillProducts:
    """Paths of the products of one fill in ``<output root>/lumi_followup/fill_<N>/``."""

    fill: int
    workdir: Path

    def file(self, suffix: str) -> Path:
        return self.workdir / f"fill_{self.fill}_{suffix}"

    @property
    def plots(self) -> Path:
        return self.workdir / "plots"

    def plot(self, name: str, fmt: str = ".png") -> Path:
        return self.plots / f"fill_{self.fill}_{name}{fmt}"

    sb = property(lambda self: self.file("sb.parquet"))
    sb_fits = property(lambda self: self.file("sb_fits.parquet"))
    sb_json = property(lambda self: self.file("sb.json"))
    cycle = property(lambda self: self.file("cycle.parquet"))
    cycle_json = property(lambda self: self.file("cycle.json"))
    cycle_model = property(lambda self: self.file("cycle_model.parquet"))
    cycle_model_inj2sb = property(lambda self: self.file("cycle_model_Inj2SB.parquet"))
    lumi_calc = property(lambda self: self.file("lumi_calc.parquet"))
    lumi_calc_json = property(lambda self: self.file("lumi_calc.json"))
    lumi_meas = property(lambda self: self.file("lumi_meas.parquet"))
    lumi_meas_json = property(lambda self: self.file("lumi_meas.json"))
    lifetime = property(lambda self: self.file("lifetime.parquet"))
    lifetime_json = property(lambda self: self.file("lifetime.json"))
    fits = property(lambda self: self.file("fits.parquet"))
    fits_json = property(lambda self: self.file("fits.json"))
    model_json = property(lambda self: self.file("sbmodel.json"))

    def model_beams(self, case: int) -> Path:
        return self.file(f"sbmodel_case{case}.parquet")

    def model_lumi(self, case: int) -> Path:
        return self.file(f"sbmodel_case{case}_lumi.parquet")


def load_sb(p: FillProducts) -> tuple[SBResult, dict]:
    """The SB product back as an :class:`SBResult` plus its JSON metadata."""
    meta = read_json(p.sb_json)
    frame = read_parquet(p.sb)
    time = np.asarray(meta["time_range"], dtype=float)
    beams: dict[int, dict[str, BeamSB]] = {}
    lifetimes: dict[int, np.ndarray] = {}
    for beam in (1, 2):
        beams[beam] = {}
        for fam in ("coll", "noncoll"):
            slots = np.asarray(meta[f"slots_filled_{fam}"][str(beam)], dtype=int)
            sub = frame[(frame["beam"] == beam) & (frame["family"] == fam)]
            if len(slots) == 0:
                empty = np.zeros((len(time), 0))
                beams[beam][fam] = BeamSB(slots, *(empty.copy() for _ in SB_COLUMNS))
                if fam == "coll":
                    lifetimes[beam] = np.zeros((max(len(time) - 1, 0), 0))
                continue
            _, s, m = matrices(sub, [*SB_COLUMNS, "intensity_lifetime"])
            beams[beam][fam] = BeamSB(s, *(m[c] for c in SB_COLUMNS))
            if fam == "coll":
                lifetimes[beam] = m["intensity_lifetime"][:-1]
    xing = {int(k): np.asarray(v, dtype=float) for k, v in meta["xing_angle"].items()}
    return SBResult(time, xing, beams, intensity_lifetime=lifetimes), meta


def load_pair_lumi(path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(time, slots, {'ATLAS': T × nb, 'CMS': T × nb}) from a lumi product."""
    time, slots, m = matrices(read_parquet(path), ["ATLAS", "CMS"])
    return time, slots, m


def sb_frame(res: SBResult) -> pd.DataFrame:
    """Long table of the SB product (with the colliding intensity lifetime, NaN in the last row)."""
    from include.lumi.tables import long_table

    parts = []
    for beam in (1, 2):
        for fam in ("coll", "noncoll"):
            b = res.beams[beam][fam]
            cols = {c: getattr(b, c) for c in SB_COLUMNS}
            tau = np.full(b.intensity.shape, np.nan)
            if fam == "coll" and len(res.time) > 1:
                tau[:-1] = res.intensity_lifetime[beam]
            cols["intensity_lifetime"] = tau
            parts.append(long_table(res.time, b.slots, cols, beam=beam, family=fam))
    return pd.concat(parts, ignore_index=True)
