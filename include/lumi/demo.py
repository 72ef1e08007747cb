"""Demo and test data of the luminosity follow-up, in the exact input formats of the spec.

``generate(target, seed)`` writes, below ``target`` (``<data root>/lumi``):

* ``fills_and_bmodes/fills_and_bmodes_raw_<YEAR>.csv``: ``HX:FILLN``, ``HX:BMODE`` and the
  ``HX:BMODE_<M>`` flags in the logging-CSV layout; ``fills_and_bmodes/fills_and_bmodes_<YEAR>.csv``:
  the derived one-record-per-fill table (the CSV twin);
* per fill with stable beams, the logging-DB CSVs of §2.2 (basic, bunch-by-bunch, crossing angle);
* ``massi/<YEAR>/measurements/{ATLAS,CMS}/lumi/<N>.tgz``: the Massi archives of §3.

Fill numbers are real 2017 fills that have both ATLAS and CMS archives in ``fill_db_2017.yaml``;
two fills without stable beams sit between them, as in a real sequence.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from include.core import atomic
from include.lumi.config import LumiConfig, load_config
from include.lumi.constants import BMODES, N_SLOTS, slot_to_bucket
from include.lumi.demo_machine import FillTruth, build_timeline, simulate_fill
from include.lumi.logging_csv import variable_block, write_logging_csv

YEAR = 2017
# Real 2017 fills (BCMS period, 2556 bunches) with ATLAS and CMS archives in fill_db_2017.yaml.
DEMO_FILLS = (6140, 6141, 6142, 6143, 6146)
NO_SB_FILLS = (6144, 6145)  # real fill numbers in between, generated without stable beams
T0 = pd.Timestamp("2017-08-27 10:00:00", tz="UTC").timestamp()
MASSI_CALIBRATION = {"ATLAS": 1.0, "CMS": 1.015}


@dataclass(frozen=True)
class DemoOptions:
    """Logging cadences (s) and sizes; the defaults keep a full fill to a few seconds."""

    n_bunches: int = 2556
    fbct_period: float = 60.0
    fbct_period_sb: float = 300.0  # a multiple of the 300 s SB grid: no beat in the differences
    bsrt_period: float = 1.0
    bsrt_period_cycle: float = 0.25  # faster scan before SB, so injection/flat top see most bunches twice
    bsrt_frames: int = 2
    basic_period: float = 10.0
    massi_period: float = 180.0
    # A short fill without stable beams follows the last one, so that every demo fill with stable
    # beams is complete (a frozen demo never ends an "ongoing" fill; the daily run would re-select it).
    trailing_fill: bool = True


def _tokens(values: np.ndarray, quantum: float, fmt: str) -> np.ndarray:
    """Object array of formatted strings, formatting each distinct quantized value once."""
    keys = np.round(np.asarray(values) / quantum).astype(np.int64)
    if keys.size == 0:
        return np.empty(keys.shape, dtype=object)
    lo = int(keys.min())
    present = np.flatnonzero(np.bincount((keys - lo).ravel()))
    table = np.empty(int(keys.max()) - lo + 1, dtype=object)
    table[present] = ["0.0" if k == 0 else format(k * quantum, fmt) for k in (present + lo).tolist()]
    return table[keys - lo]


def _rows_from_matrix(values: np.ndarray, quantum: float, fmt: str) -> list[str]:
    """Comma-joined rows of a matrix."""
    return [",".join(row) for row in _tokens(values, quantum, fmt)]


def _sample_times(a: float, b: float, period: float) -> np.ndarray:
    return np.arange(a, b, period) + 1.0


def _truth_at(truth: FillTruth, times: np.ndarray) -> np.ndarray:
    """Index of the truth row at or just before each time."""
    return np.clip(np.searchsorted(truth.t, times, side="right") - 1, 0, len(truth.t) - 1)


def _basic_csv(truth: FillTruth, opts: DemoOptions, rng: np.random.Generator) -> str:
    tl = truth.timeline
    ts = _sample_times(tl.t_start, tl.t_end, opts.basic_period)
    k = _truth_at(truth, ts)
    blocks = []
    for beam in (1, 2):
        energy = np.interp(ts, truth.t, truth.energy_gev) + rng.normal(0, 0.3, len(ts))
        blocks.append(variable_block(f"LHC.BSRA.US45.B{beam}:ABORT_GAP_ENERGY", ts, [f"{e:.2f}" for e in energy]))
    for beam in (1, 2):
        total = truth.beams[beam].intensity[k].sum(axis=1) * (1 + rng.normal(0, 1e-3, len(ts)))
        blocks.append(variable_block(f"LHC.BCTDC.A6R4.B{beam}:BEAM_INTENSITY", ts, [f"{x:.4E}" for x in total]))
    return "".join(blocks)


def _bbb_csv(truth: FillTruth, opts: DemoOptions, rng: np.random.Generator) -> str:
    tl = truth.timeline
    sb_a, _ = tl.mode("STABLE")
    sb_b = tl.mode("STABLE")[1]
    ts = np.r_[_sample_times(tl.t_start, sb_a, opts.fbct_period), _sample_times(sb_a, tl.t_end, opts.fbct_period_sb)]
    ts = np.unique(np.r_[ts, sb_b - 2.0])  # the last acquisition before the dump
    k = _truth_at(truth, ts)
    blocks = []
    for beam in (1, 2):
        bt = truth.beams[beam]
        mat = np.zeros((len(ts), N_SLOTS))
        mat[:, bt.slots] = bt.intensity[k] * (1 + rng.normal(0, 3e-3, (len(ts), len(bt.slots))))
        blocks.append(
            variable_block(
                f"LHC.BCTFR.A6R4.B{beam}:BUNCH_INTENSITY", ts, _rows_from_matrix(mat, 1e7, ".4E"), array=True
            )
        )
    for beam in (1, 2):
        bt = truth.beams[beam]
        filled_rows, length_rows = [], []
        lengths = bt.blength_s[k] * (1 + rng.normal(0, 4e-3, (len(ts), len(bt.slots))))
        alive = bt.intensity[k] > 0
        bucket_text = np.array([str(b) for b in slot_to_bucket(bt.slots).tolist()], dtype=object)
        for i in range(len(ts)):
            idx = np.flatnonzero(alive[i])
            filled_rows.append(",".join(bucket_text[idx]))
            row = np.zeros(N_SLOTS)
            row[: len(idx)] = lengths[i, idx]
            length_rows.append(row)
        keep = [i for i, r in enumerate(filled_rows) if r]
        tk = ts[keep]
        blocks.append(variable_block(f"LHC.BQM.B{beam}:FILLED_BUCKETS", tk, [filled_rows[i] for i in keep], True))
        rows = _rows_from_matrix(np.array(length_rows)[keep], 1e-13, ".4E")
        blocks.append(variable_block(f"LHC.BQM.B{beam}:BUNCH_LENGTHS", tk, rows, array=True))
    cfg = load_config(YEAR)
    for beam, device in ((1, "LHC.BSRT.5R4.B1"), (2, "LHC.BSRT.5L4.B2")):
        blocks += _bsrt_blocks(truth, beam, device, opts, cfg, rng)
    return "".join(blocks)


def _bsrt_blocks(truth: FillTruth, beam: int, device: str, opts: DemoOptions, cfg: LumiConfig, rng) -> list[str]:
    """BSRT scanning one bunch at a time: each acquisition images one slot ``bsrt_frames`` times."""
    tl = truth.timeline
    bt = truth.beams[beam]
    sb_a, sb_b = tl.mode("STABLE")
    cycle_period = min(opts.bsrt_period_cycle, opts.bsrt_period)
    ts = np.r_[_sample_times(bt.t_inj.min(), sb_a, cycle_period), _sample_times(sb_a, sb_b, opts.bsrt_period)]
    ts = ts + 0.1 * beam
    # Bunches are injected in slot order, so the bunches present are the first n_alive ones.
    n_alive = np.searchsorted(np.sort(bt.t_inj), ts, side="right")
    ts, n_alive = ts[n_alive > 0], n_alive[n_alive > 0]
    j = np.arange(len(ts)) % n_alive
    k = _truth_at(truth, ts)
    gamma = np.interp(ts, truth.t, truth.energy_gev) / 0.93828
    cal = {e: cfg.calibration_for(tl.fill, e, beam) for e in (450, 6500)}
    high = gamma > 2000

    def pick(key: str) -> np.ndarray:
        return np.where(high, cal[6500][key], cal[450][key])[:, None]

    shape = (len(ts), opts.bsrt_frames)
    eh = bt.emit_h_um[k, j][:, None] * (1 + rng.normal(0, 0.04, shape))
    ev = bt.emit_v_um[k, j][:, None] * (1 + rng.normal(0, 0.04, shape))
    g = gamma[:, None]
    sh = np.sqrt(eh * pick("betaf_h") / g + pick("sigma_corr_h") ** 2) / pick("rescale_sigma_h")
    sv = np.sqrt(ev * pick("betaf_v") / g + pick("sigma_corr_v") ** 2) / pick("rescale_sigma_v")
    gates = [",".join([str(s)] * opts.bsrt_frames) for s in bt.slots[j].tolist()]
    return [
        variable_block(f"{device}:GATE_DELAY", ts, gates, True),
        variable_block(f"{device}:FIT_SIGMA_H", ts, _rows_from_matrix(sh, 1e-4, ".4f"), True),
        variable_block(f"{device}:FIT_SIGMA_V", ts, _rows_from_matrix(sv, 1e-4, ".4f"), True),
    ]


def _crossing_csv(truth: FillTruth) -> str:
    """Half angles in µrad: the last value before the fill, repeated at the fill start."""
    ts = np.array([truth.timeline.t_start - 3600.0, truth.timeline.t_start])
    ip1, ip5 = truth.xing_half_urad
    return variable_block("LHC.RUNCONFIG:IP1-XING-V-MURAD", ts, [f"{ip1:.1f}"] * 2) + variable_block(
        "LHC.RUNCONFIG:IP5-XING-H-MURAD", ts, [f"{ip5:.1f}"] * 2
    )


def _massi_archive(path: Path, truth: FillTruth, exp: str, opts: DemoOptions, rng: np.random.Generator) -> None:
    """``<N>/<N>_lumi_<BUCKET>_<EXP>.txt`` per B1 colliding slot, the fill total and a summary."""
    fill = truth.timeline.fill
    sb_a, sb_b = truth.timeline.mode("STABLE")
    ts = np.arange(sb_a - 600, sb_b, opts.massi_period).astype(int)
    flag = ((ts >= sb_a) & (ts < sb_b)).astype(int)
    lumi = np.array([np.interp(ts, truth.t, truth.lumi[exp][:, i]) for i in range(len(truth.coll_slots))])
    lumi = lumi * 1e-34 * MASSI_CALIBRATION[exp] * (1 + rng.normal(0, 3e-3, lumi.shape))  # Hz/µb
    err = np.abs(lumi) * 2e-3
    b1 = truth.beams[1]
    n1 = np.array([np.interp(ts, truth.t, b1.intensity[:, np.searchsorted(b1.slots, s)]) for s in truth.coll_slots])
    b2 = truth.beams[2]
    n2 = np.array([np.interp(ts, truth.t, b2.intensity[:, np.searchsorted(b2.slots, s)]) for s in truth.coll_slots])
    spec = np.where(n1 * n2 > 0, lumi / np.maximum(n1 * n2 * 1e-22, 1e-30), 0.0)
    sep = "\t" if exp == "ATLAS" else " "
    members: dict[str, bytes] = {}
    prefix = np.array([f"{t}{sep}{f}{sep}" for t, f in zip(ts.tolist(), flag.tolist(), strict=True)], dtype=object)
    lines = (
        prefix[None, :]
        + _tokens(lumi, 1e-4, ".4f")
        + sep
        + _tokens(err, 1e-4, ".4f")
        + sep
        + _tokens(spec, 1e-5, ".5f")
        + sep
        + _tokens(spec * 2e-3, 1e-5, ".5f")
    )
    for i, slot in enumerate(truth.coll_slots.tolist()):
        members[f"{fill}/{fill}_lumi_{slot_to_bucket(slot)}_{exp}.txt"] = ("\n".join(lines[i]) + "\n").encode()
    total = lumi.sum(axis=0)
    members[f"{fill}/{fill}_lumi_{exp}.txt"] = "".join(
        f"{t}{sep}{f}{sep}{v:.3f}{sep}{v * 2e-3:.3f}\n"
        for t, f, v in zip(ts.tolist(), flag.tolist(), total.tolist(), strict=True)
    ).encode()
    integrated = float(np.sum(total * flag) * opts.massi_period)  # µb^-1
    members[f"{fill}/{fill}_summary_{exp}.txt"] = (
        f"{fill} {int(sb_a)} {int(sb_b)} {integrated:.1f} {total.max():.3f}\n".encode()
    )
    mtime = int(sb_b + (5400 if exp == "ATLAS" else 7200))
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=mtime, compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            tar.addfile(info, io.BytesIO(data))
    atomic.write_bytes(path, buffer.getvalue())
    os.utime(path, (mtime, mtime))


def _bmodes_files(target: Path, timelines: list, query_stop: float) -> list[Path]:
    """Raw HX:FILLN / HX:BMODE / HX:BMODE_<M> variables and the derived table (CSV twin)."""
    fill_t = np.array([tl.t_start for tl in timelines])
    blocks = [variable_block("HX:FILLN", fill_t, [str(tl.fill) for tl in timelines])]
    changes = [(a, m) for tl in timelines for m, a, _ in tl.modes]
    blocks.append(variable_block("HX:BMODE", np.array([a for a, _ in changes]), [m for _, m in changes]))
    for mode in BMODES:
        times, values = [], []
        for tl in timelines:
            for m, a, b in tl.modes:
                if m == mode:
                    times += [a, b]
                    values += ["1", "0"]
        blocks.append(variable_block(f"HX:BMODE_{mode}", np.array(times), values))
    raw = write_logging_csv(target / "fills_and_bmodes" / f"fills_and_bmodes_raw_{YEAR}.csv", blocks)
    records = []
    for i, tl in enumerate(timelines):
        complete = i + 1 < len(timelines)
        rec = {"fill": tl.fill, "t_startfill": tl.t_start, "t_endfill": tl.t_end if complete else query_stop}
        rec["flag_complete"] = complete
        for mode in BMODES:
            spans = [(a, b) for m, a, b in tl.modes if m == mode]
            rec[f"t_start_{mode}"] = spans[0][0] if spans else -1
            rec[f"t_stop_{mode}"] = spans[-1][1] if spans else -1
        records.append(rec)
    table = target / "fills_and_bmodes" / f"fills_and_bmodes_{YEAR}.csv"
    with atomic.atomic_path(table) as tmp:
        pd.DataFrame.from_records(records).to_csv(tmp, index=False)
    return [raw, table]


def simulate(
    seed: int, *, fills: tuple[int, ...] = DEMO_FILLS, options: DemoOptions | None = None
) -> Iterator[tuple[FillTruth, np.random.Generator]]:
    """The true evolution of every fill with stable beams, as ``generate`` writes it, in fill order.

    Each truth comes with its fill's random generator, positioned where the instrument noise starts.
    """
    opts = options or DemoOptions()
    cfg = load_config(YEAR)
    for tl in _timelines(seed, fills, opts.trailing_fill):
        if tl.has_sb:
            frng = np.random.default_rng([seed, tl.fill])
            yield simulate_fill(tl, opts.n_bunches, cfg, frng), frng


def _timelines(seed: int, fills: tuple[int, ...], trailing_fill: bool = True) -> list:
    all_fills = sorted(set(fills) | {f for f in NO_SB_FILLS if min(fills) < f < max(fills)})
    if trailing_fill:  # no stable beams: appended last, it draws nothing from the generator
        all_fills.append(max(fills) + 1)
    return build_timeline(T0, all_fills, set(fills), np.random.default_rng(seed))


def generate(
    target: Path,
    seed: int,
    *,
    fills: tuple[int, ...] = DEMO_FILLS,
    options: DemoOptions | None = None,
) -> list[Path]:
    """Write the demo inputs for ``fills`` below ``target``; return the files written."""
    opts = options or DemoOptions()
    target = Path(target)
    cfg = load_config(YEAR)
    timelines = _timelines(seed, fills, opts.trailing_fill)
    # The last fill is still "ongoing" when the query window closes with its last logged mode change.
    written = _bmodes_files(target, timelines, timelines[-1].t_end)
    for truth, frng in simulate(seed, fills=fills, options=opts):
        n = truth.timeline.fill
        written.append(
            write_logging_csv(
                target / "fill_basic_data_csvs" / f"basic_data_fill_{n}.csv", [_basic_csv(truth, opts, frng)]
            )
        )
        written.append(
            write_logging_csv(
                target / "fill_bunchbybunch_data_csvs" / f"bunchbybunch_data_fill_{n}.csv",
                [_bbb_csv(truth, opts, frng)],
            )
        )
        written.append(
            write_logging_csv(
                target / "fill_crossing_data_csvs" / f"crossing_angle_fill_{n}.csv", [_crossing_csv(truth)]
            )
        )
        for exp in ("ATLAS", "CMS"):
            path = cfg.massi_archive(target, f"{exp}/lumi/", n)
            _massi_archive(path, truth, exp, opts, frng)
            written.append(path)
    return written
