"""Fills and beam modes (spec §2.1): the per-fill table derived from HX:FILLN / HX:BMODE_<M>,
and the fill-selection rules."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from include.core.errors import InputFileError
from include.lumi.config import LumiConfig
from include.lumi.constants import BMODES
from include.lumi.logging_csv import LoggedVariable, read_logging_csv, require

USED_FIELDS = (
    "t_startfill",
    "t_endfill",
    "t_start_INJPHYS",
    "t_stop_PRERAMP",
    "t_start_FLATTOP",
    "t_start_SQUEEZE",
    "t_start_STABLE",
    "t_stop_STABLE",
)


def _edges(flag: LoggedVariable | None, t0: float, t1: float) -> tuple[float, float]:
    """First rising edge and last falling edge of a 0/1 flag inside [t0, t1]; -1 if absent."""
    if flag is None or len(flag) == 0:
        return -1, -1
    values = flag.scalars() > 0.5
    previous = np.r_[False, values[:-1]]
    inside = (flag.t >= t0) & (flag.t <= t1)
    rising = flag.t[inside & values & ~previous]
    falling = flag.t[inside & ~values & previous]
    return (float(rising[0]) if len(rising) else -1), (float(falling[-1]) if len(falling) else -1)


def derive_fill_table(path: str | Path, query_stop: float | None = None, now: float | None = None) -> pd.DataFrame:
    """One record per fill from a raw beam-mode logging CSV (HX:FILLN, HX:BMODE_<M>).

    The ongoing (last) fill ends at min(now, query stop); the query stop defaults to the last
    timestamp logged in the file.
    """
    variables = read_logging_csv(path)
    filln = require(variables, "HX:FILLN", path)
    if len(filln) == 0:
        raise InputFileError(path, "HX:FILLN has no values")
    numbers = filln.scalars().astype(int)
    change = np.r_[True, numbers[1:] != numbers[:-1]]
    starts, fills = filln.t[change], numbers[change]
    if query_stop is None:  # the query window ends with the last logged value of the file
        query_stop = max(float(v.t.max()) for v in variables.values() if len(v))
    stop = min(now if now is not None else time.time(), query_stop)
    records = []
    for i, (fill, t0) in enumerate(zip(fills.tolist(), starts.tolist(), strict=True)):
        complete = i + 1 < len(fills)
        t1 = float(starts[i + 1]) if complete else float(stop)
        rec: dict[str, float | int | bool] = {
            "fill": int(fill),
            "t_startfill": float(t0),
            "t_endfill": t1,
            "flag_complete": complete,
        }
        for mode in BMODES:
            rec[f"t_start_{mode}"], rec[f"t_stop_{mode}"] = _edges(variables.get(f"HX:BMODE_{mode}"), t0, t1)
        records.append(rec)
    return pd.DataFrame.from_records(records).set_index("fill", drop=False).rename_axis(None)


def read_fill_table(path: str | Path) -> pd.DataFrame:
    """The derived table from its CSV twin."""
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"cannot read the fills-and-beam-modes table ({exc})") from exc
    missing = [c for c in ("fill", *USED_FIELDS) if c not in table.columns]
    if missing:
        raise InputFileError(path, f"missing columns {missing}")
    return table.set_index("fill", drop=False).rename_axis(None)


def select_fills(table: pd.DataFrame, cfg: LumiConfig) -> pd.DataFrame:
    """Rules of §2.1: enough stable beams, sorted by fill, inside [first_fill, last_fill]; extra columns."""
    sb = table[(table["t_start_STABLE"] > 0) & (table["t_stop_STABLE"] - table["t_start_STABLE"] >= cfg.min_time_SB)]
    sb = sb.sort_values("fill")
    sb = sb[(sb["fill"] >= cfg.first_fill) & (sb["fill"] <= cfg.last_fill)].copy()
    sb["period"] = [cfg.period(int(f)) for f in sb["fill"]]
    angles = [cfg.xing_angle(int(f)) for f in sb["fill"]]
    sb["CrossingAngle_ATLAS"] = [a[0] for a in angles]
    sb["CrossingAngle_CMS"] = [a[1] for a in angles]
    rescale = dict((a, b) for a, b in cfg.resc_period) if cfg.doRescale else {}
    sb["rescaledPeriod"] = [rescale.get(p, p) for p in sb["period"]]
    return sb


def fill_record(table: pd.DataFrame, fill: int, source: str | Path) -> dict[str, float]:
    """The used fields of one fill as plain floats."""
    if fill not in table.index:
        raise InputFileError(source, f"fill {fill} is not in the fills-and-beam-modes table")
    row = table.loc[fill]
    return {"fill": int(fill), "flag_complete": bool(row.get("flag_complete", True))} | {
        k: float(row[k]) for k in USED_FIELDS
    }
