"""The steps of one fill (spec §7): each reads its inputs from disk and writes its products."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from include.core.errors import InputFileError
from include.core.fingerprint import file_fingerprint
from include.core.steps import UnitContext
from include.lumi import instruments as ins
from include.lumi import massi as massi_io
from include.lumi.config import LumiConfig, load_config
from include.lumi.constants import C_LIGHT, M2S_TO_CM2S
from include.lumi.expfit import fit_tau
from include.lumi.filldb import record_archives
from include.lumi.ibs import default_model
from include.lumi.inputs import FillInputs, parsed
from include.lumi.lifetime import lifetimes
from include.lumi.luminosity import bunch_luminosity
from include.lumi.products import FillProducts, load_pair_lumi, load_sb, sb_frame
from include.lumi.sb import analyse_sb, cycle_points, grid
from include.lumi.sbmodel import BeamData, ModelSettings, run_model
from include.lumi.tables import long_table, read_json, read_parquet, write_json, write_parquet


@lru_cache(maxsize=8)
def _config(text: str) -> LumiConfig:
    data = json.loads(text)
    year = int(data.pop("year"))
    return load_config(year, data)


def config_of(ctx: UnitContext) -> LumiConfig:
    """The run configuration (year + overrides) carried in the unit parameters."""
    return _config(json.dumps(ctx.params["config"], sort_keys=True))


def inputs_of(ctx: UnitContext) -> FillInputs:
    cfg = config_of(ctx)
    data_root = Path(ctx.params["data_root"])
    return FillInputs(int(ctx.params["fill"]), data_root / "lumi" / cfg.data_folder, cfg, data_root)


def products_of(ctx: UnitContext) -> FillProducts:
    return FillProducts(int(ctx.params["fill"]), ctx.workdir)


def _record(ctx: UnitContext) -> dict[str, float]:
    return ctx.params["record"]


# -- sb + cycle -------------------------------------------------------------------------------


def _decode(ctx: UnitContext):
    fi, cfg, rec = inputs_of(ctx), config_of(ctx), _record(ctx)
    basic, bbb = parsed(fi.basic), parsed(fi.bbb)
    crossing = parsed(fi.crossing) if fi.crossing.is_file() else None
    fbct = {b: ins.fbct(bbb, b, fi.bbb) for b in (1, 2)}
    bqm = {b: ins.bqm(bbb, b, fi.bbb) for b in (1, 2)}
    bsrt = {b: ins.bsrt(bbb, b, ins.energy_series(basic, b, fi.basic), cfg, fi.fill, fi.bbb) for b in (1, 2)}
    xing = ins.crossing_angles(crossing, grid(rec, cfg), cfg, fi.fill)
    return fbct, bqm, bsrt, xing


def run_sb(ctx: UnitContext) -> dict[str, Any]:
    """§7.1: SB values per slot on the grid, colliding split, intensity lifetime, fits."""
    cfg, rec, p = config_of(ctx), _record(ctx), products_of(ctx)
    fbct, bqm, bsrt, xing = _decode(ctx)
    res = analyse_sb(rec, cfg, fbct, bqm, bsrt, xing)
    if len(res.time) < 2:
        raise InputFileError(inputs_of(ctx).bbb, f"stable beams too short for a grid ({len(res.time)} points)")
    write_parquet(p.sb, sb_frame(res))
    rows = []
    for beam in (1, 2):
        for fam in ("coll", "noncoll"):
            keys = {k.replace(f"_{fam}", ""): v for k, v in res.fits[beam].items() if f"_{fam}" in k}
            frame = pd.DataFrame({"beam": beam, "family": fam, "slot": res.beams[beam][fam].slots, **keys})
            rows.append(frame)
    write_parquet(p.sb_fits, pd.concat(rows, ignore_index=True))
    coll = res.beams[1]["coll"]
    summary = {
        "n_coll": len(coll.slots),
        "n_noncoll_b1": len(res.beams[1]["noncoll"].slots),
        "n_noncoll_b2": len(res.beams[2]["noncoll"].slots),
        "emit_h_start_um": float(np.nanmean(coll.eh[0])) if coll.eh.size else None,
        "emit_v_start_um": float(np.nanmean(coll.ev[0])) if coll.ev.size else None,
        "intensity_start": float(np.nanmean(coll.intensity[0])) if coll.intensity.size else None,
        "bl_4sigma_start_ns": float(np.nanmean(coll.bl_m[0]) * 4 / C_LIGHT * 1e9) if coll.bl_m.size else None,
        "intensity_lifetime_start_h": {
            b: _first_hour_lifetime_h(res.time, res.beams[b]["coll"].intensity) for b in (1, 2)
        },
    }
    meta = {
        "fill": p.fill,
        "time_range": res.time,
        "xing_angle": {str(k): v for k, v in res.xing.items()},
        "slots_filled_coll": {str(b): res.beams[b]["coll"].slots for b in (1, 2)},
        "slots_filled_noncoll": {str(b): res.beams[b]["noncoll"].slots for b in (1, 2)},
        "betastar_m": cfg.betastar(p.fill),
        "record": rec,
        "summary": summary,
    }
    write_json(p.sb_json, meta)
    return summary


def _first_hour_lifetime_h(t: np.ndarray, n: np.ndarray) -> float | None:
    """Lifetime of the summed colliding intensity over the first hour of SB, in h (robust to FBCT noise)."""
    if n.size == 0 or len(t) < 2:
        return None
    total = np.nansum(n, axis=1)
    k = min(int(np.searchsorted(t, t[0] + 3600.0)), len(t) - 1)
    ratio = total[k] / total[0] if total[0] > 0 else np.nan
    return float(-(t[k] - t[0]) / np.log(ratio) / 3600) if 0 < ratio < 1 else None


def run_cycle(ctx: UnitContext) -> dict[str, Any]:
    """§7.1 step 4: injection and flat-top values per slot."""
    rec, p = _record(ctx), products_of(ctx)
    fbct, bqm, bsrt, _ = _decode(ctx)
    rows, meta = [], {}
    for beam in (1, 2):
        points = cycle_points(rec, fbct[beam], bqm[beam], bsrt[beam])
        for cycle, entry in points.items():
            meta[f"beam_{beam}/{cycle}"] = {"t_start": entry["t_start"], "t_end": entry["t_end"]}
            for point in ("at_start", "at_end"):
                rows.append(
                    pd.DataFrame(
                        {"beam": beam, "cycle": cycle, "point": point, "slot": entry["filled_slots"], **entry[point]}
                    )
                )
    frame = pd.concat(rows, ignore_index=True)
    write_parquet(p.cycle, frame)
    write_json(p.cycle_json, {"fill": p.fill, "intervals": meta})
    inj = frame[(frame.cycle == "Injection") & (frame.point == "at_start")]
    return {"emith_injected_um": float(np.nanmean(inj.emith)), "intensity_injected": float(np.nanmean(inj.intensity))}


def run_cycle_model(ctx: UnitContext) -> dict[str, Any]:
    """§7.2: one IBS step per bunch from at_start over (at_end − at_start), FB at injection, FT at flat top."""
    cfg, p = config_of(ctx), products_of(ctx)
    ibs = default_model()
    cyc = read_parquet(p.cycle)
    out, inj2sb = [], []
    for beam in (1, 2):
        for cycle, gamma, vrf in (("Injection", cfg.gammaFB, cfg.VRF_FB), ("he_before_SB", cfg.gammaFT, cfg.VRF_FT)):
            a = cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == "at_start")].set_index("slot")
            b = (
                cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == "at_end")]
                .set_index("slot")
                .reindex(a.index)
            )
            dt = (b.time_meas - a.time_meas).to_numpy()
            ok = np.isfinite(dt) & (dt > 0) & np.isfinite(a.intensity.to_numpy())
            ex, bl = np.full(len(a), np.nan), np.full(len(a), np.nan)
            if ok.any():
                ex[ok], bl[ok] = ibs.step(
                    gamma, a.intensity.to_numpy()[ok], a.emith.to_numpy()[ok] * 1e-6, a.emitv.to_numpy()[ok] * 1e-6,
                    a.blength.to_numpy()[ok], vrf, dt[ok],
                )  # fmt: skip
            out.append(
                pd.DataFrame(
                    {
                        "beam": beam,
                        "cycle": cycle,
                        "point": "at_end",
                        "slot": a.index.to_numpy(),
                        "emith": ex * 1e6,
                        "emitv": a.emitv.to_numpy(),
                        "blength": bl,
                        "time_meas": b.time_meas.to_numpy(),
                    }
                )
            )
            if cycle == "Injection":
                start = pd.DataFrame(
                    {
                        "emith": ex * 1e6,
                        "emitv": a.emitv.to_numpy(),
                        "blength": bl,
                        "intensity": a.intensity.to_numpy(),
                    },
                    index=a.index,
                )
        # Inj2SB: the model value at the end of injection, evolved with the FT IBS over the flat top.
        ft_a = cyc[(cyc.beam == beam) & (cyc.cycle == "he_before_SB") & (cyc.point == "at_start")].set_index("slot")
        ft_b = cyc[(cyc.beam == beam) & (cyc.cycle == "he_before_SB") & (cyc.point == "at_end")].set_index("slot")
        s0 = start.reindex(ft_b.index)
        dt = (ft_b.time_meas - ft_a.time_meas.reindex(ft_b.index)).to_numpy()
        ok = np.isfinite(dt) & (dt > 0) & np.isfinite(s0.emith.to_numpy()) & np.isfinite(s0.intensity.to_numpy())
        ex, bl = np.full(len(s0), np.nan), np.full(len(s0), np.nan)
        if ok.any():
            ex[ok], bl[ok] = ibs.step(
                cfg.gammaFT, s0.intensity.to_numpy()[ok], s0.emith.to_numpy()[ok] * 1e-6,
                s0.emitv.to_numpy()[ok] * 1e-6, s0.blength.to_numpy()[ok], cfg.VRF_FT, dt[ok],
            )  # fmt: skip
        inj2sb.append(
            pd.DataFrame(
                {
                    "beam": beam,
                    "cycle": "he_before_SB",
                    "point": "at_end",
                    "slot": ft_b.index.to_numpy(),
                    "emith": ex * 1e6,
                    "emitv": s0.emitv.to_numpy(),
                    "blength": bl,
                    "time_meas": ft_b.time_meas.to_numpy(),
                }
            )
        )
    model = pd.concat(out, ignore_index=True)
    write_parquet(p.cycle_model, model)
    write_parquet(p.cycle_model_inj2sb, pd.concat(inj2sb, ignore_index=True))
    ft = model[model.cycle == "he_before_SB"]
    modelled = ft.emith.dropna()
    return {
        "bunches_modelled_flat_top": len(modelled),
        "emith_model_start_sb_um": float(modelled.mean()) if len(modelled) else None,
    }


# -- luminosity -------------------------------------------------------------------------------


def run_lumi(ctx: UnitContext) -> dict[str, Any]:
    """§7.3: calculated luminosity per colliding pair from the smoothed emittances."""
    cfg, p = config_of(ctx), products_of(ctx)
    res, meta = load_sb(p)
    b1, b2 = res.beams[1]["coll"], res.beams[2]["coll"]
    lumi = bunch_luminosity(
        b1.intensity, b2.intensity, b1.eh, b1.ev, b2.eh, b2.ev, b1.bl_m, b2.bl_m,
        res.xing[1][:, None], res.xing[5][:, None], meta["betastar_m"], cfg.gammaFT, cfg.frev,
    )  # fmt: skip
    write_parquet(p.lumi_calc, long_table(res.time, b1.slots, lumi))
    summary = _lumi_summary(res.time, lumi)
    write_json(p.lumi_calc_json, {"fill": p.fill, "unit": "m^-2 s^-1", **summary})
    return summary


def _lumi_summary(time: np.ndarray, lumi: dict[str, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for exp, m in lumi.items():
        total = np.nansum(m, axis=1)
        out[f"peak_total_{exp}_cm2s"] = float(np.nanmax(total) * M2S_TO_CM2S) if total.size else None
        out[f"peak_bunch_{exp}_cm2s"] = float(np.nanmax(m[0]) * M2S_TO_CM2S) if m.size else None
        out[f"integrated_{exp}_pb"] = float(np.trapezoid(total, time) * 1e-40) if total.size > 1 else 0.0
    return out


def massi_inputs(ctx: UnitContext) -> list[Path]:
    return list(inputs_of(ctx).massi_archives().values())


def run_massi(ctx: UnitContext) -> dict[str, Any]:
    """§7.4: measured luminosity of the B1 colliding slots, on the SB grid, in m⁻²s⁻¹."""
    cfg, fi, p = config_of(ctx), inputs_of(ctx), products_of(ctx)
    meta = read_json(p.sb_json)
    time = np.asarray(meta["time_range"], dtype=float)
    slots = np.asarray(meta["slots_filled_coll"]["1"], dtype=int)
    archives = fi.massi_archives()
    lumi = {}
    for exp, path in archives.items():
        per_slot = massi_io.read_bunch_lumi(path, fi.fill, exp, slots)
        lumi[exp] = massi_io.bunch_lumi_on_grid(per_slot, slots, time, cfg.massi_bunch_lumi_scale)
    write_parquet(p.lumi_meas, long_table(time, slots, lumi))
    summary = _lumi_summary(time, lumi)
    write_json(
        p.lumi_meas_json,
        {"fill": p.fill, "unit": "m^-2 s^-1", "archives": _provenance(archives), **summary},
    )
    db = Path(ctx.params["output_root"]) / "lumi_followup" / "massi_fill_db" / f"fill_db_{cfg.massi_year}.yaml"
    statuses = record_archives(db, cfg.massi_year, archives)  # only after success
    return {**summary, "archive_status": statuses}


def _provenance(archives: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Archive name, mtime (epoch s), size and sha256: a re-published archive changes this record,
    so every product derived from the measured luminosity becomes stale."""
    out = {}
    for exp, path in archives.items():
        fp = file_fingerprint(path)
        out[exp] = {"path": str(path), "mtime": int(path.stat().st_mtime), "size": fp.size, "sha256": fp.sha256}
    return out


def run_lifetime(ctx: UnitContext) -> dict[str, Any]:
    """§7.5: burn-off and total lifetimes from colliding N and measured L_ATLAS + L_CMS."""
    cfg, p = config_of(ctx), products_of(ctx)
    res, _ = load_sb(p)
    _, mslots, meas = load_pair_lumi(p.lumi_meas)
    lsum_b1 = meas["ATLAS"] + meas["CMS"]
    frames, totals = [], {}
    for beam in (1, 2):
        b = res.beams[beam]["coll"]
        lsum = lsum_b1[:, np.searchsorted(mslots, b.slots)] if beam == 2 else lsum_b1
        lt = lifetimes(res.time, b.intensity, lsum, cfg.sigmaBOff_m2)
        totals[str(beam)] = {k: v for k, v in lt.items() if k.endswith("_tot")}
        frames.append(
            long_table(res.time[:-1], b.slots, {k: v for k, v in lt.items() if k.endswith("_bbb")}, beam=beam)
        )
    write_parquet(p.lifetime, pd.concat(frames, ignore_index=True))
    write_json(p.lifetime_json, {"fill": p.fill, "unit": "s", "time_range": res.time[:-1], "totals": totals})
    first = {b: totals[b]["life_time_tot"][0] / 3600 for b in totals}
    return {
        "life_time_tot_start_h": first,
        "losses_mb": float(np.nanmedian(read_parquet(p.lifetime)["losses_dndtL_bbb"]) * 1e31),
    }


def run_fits(ctx: UnitContext) -> dict[str, Any]:
    """§7.6: exponential fits per beam/family/bunch and of the measured and calculated luminosity."""
    cfg, p = config_of(ctx), products_of(ctx)
    res, meta = load_sb(p)
    t0 = float(meta["record"]["t_start_STABLE"])
    _, _, calc = load_pair_lumi(p.lumi_calc)
    _, _, meas = load_pair_lumi(p.lumi_meas)
    rows = []
    summary: dict[str, Any] = {}
    for beam in (1, 2):
        for fam in ("coll", "noncoll"):
            b = res.beams[beam][fam]
            cols: dict[str, np.ndarray] = {}
            for key, values, scale in (
                ("emith", b.eh, 1.0),
                ("emitv", b.ev, 1.0),
                ("bl", b.bl_m, 1.0),
                ("inten", b.intensity, 1e-11),
            ):
                for suffix, length in (("", cfg.t_fit_length), ("_full", None)):
                    tau, init = fit_tau(res.time, values, t0, length, scale)
                    cols[f"tau_{key}{suffix}"], cols[f"init_{key}{suffix}"] = tau, init
            rows.append(pd.DataFrame({"group": f"beam_{beam}", "family": fam, "slot": b.slots, **cols}))
            for k, v in cols.items():
                name = k.replace("_full", "") + f"_{fam}" + ("_full" if k.endswith("_full") else "")
                summary[f"beam_{beam}/{name}"] = float(np.nanmedian(v)) if v.size else None
    for exp in ("ATLAS", "CMS"):  # ATLAS in the beam-1 pass, CMS in the beam-2 pass (same B1 slots)
        slots = res.beams[1]["coll"].slots
        cols = {}
        for kind, data in (("meas", meas[exp]), ("calc", calc[exp])):
            for suffix, length in (("", cfg.t_fit_length), ("_full", None)):
                tau, init = fit_tau(res.time, data, t0, length, 1e-34)
                cols[f"tau_lumi_{kind}{suffix}"], cols[f"init_lumi_{kind}{suffix}"] = tau, init
        rows.append(pd.DataFrame({"group": exp, "family": "coll", "slot": slots, **cols}))
        for k, v in cols.items():
            name = k.replace("_full", "") + "_coll" + ("_full" if k.endswith("_full") else "")
            summary[f"{exp}/{name}"] = float(np.nanmedian(v)) if v.size else None
    write_parquet(p.fits, pd.concat(rows, ignore_index=True))
    write_json(p.fits_json, {"fill": p.fill, "unit": "s (tau), input units (init)", "median": summary})
    return {k: v for k, v in summary.items() if k.startswith(("ATLAS/tau_lumi", "CMS/tau_lumi"))}


def model_outputs(ctx: UnitContext) -> list[Path]:
    p, cfg = products_of(ctx), config_of(ctx)
    return [p.model_json] + [f(c.case) for c in cfg.cases for f in (p.model_beams, p.model_lumi)]


def run_model_step(ctx: UnitContext) -> dict[str, Any]:
    """§7.7: each configured model and case, colliding and non-colliding bunches."""
    cfg, p = config_of(ctx), products_of(ctx)
    res, meta = load_sb(p)
    fits = read_parquet(p.fits)
    fill = p.fill
    settings = ModelSettings(
        betastar_m=float(meta["betastar_m"]), gamma=cfg.gammaFT, tau_srxy_s=cfg.tauSRxy_FT_h * 3600,
        sigma_bo_m2=cfg.sigmaBOff_m2, sigma_el_m2=cfg.sigma_el_m2, v_rf_v=cfg.VRF_FT, dt_s=cfg.t_step_sec,
        leveling=cfg.leveling(fill), frev=cfg.frev, empirical_mode=cfg.empirical_mode,
    )  # fmt: skip
    summary: dict[str, Any] = {}
    for case in cfg.cases:
        factors = {
            1: (case.correction_factor_1h, case.correction_factor_1v),
            2: (case.correction_factor_2h, case.correction_factor_2v),
        }

        def data(beam: int, fam: str, factors: dict[int, tuple[float, float]] = factors) -> BeamData:
            b = res.beams[beam][fam]
            f = fits[(fits.group == f"beam_{beam}") & (fits.family == fam)].set_index("slot").reindex(b.slots)
            return BeamData(
                b.intensity, b.eh * factors[beam][0], b.ev * factors[beam][1], b.bl_m * 4 / C_LIGHT,
                f["tau_emith_full"].to_numpy(), f["tau_emitv_full"].to_numpy(),
            )  # fmt: skip

        beam_rows, lumi_rows = [], []
        tm = res.time[:-1]
        for model in cfg.models:
            out = run_model(model, data(1, "coll"), data(2, "coll"), res.xing[1], res.xing[5], settings)
            slots = res.beams[1]["coll"].slots
            lumi_rows.append(long_table(tm, slots, {"ATLAS": out["ATLAS"], "CMS": out["CMS"]}, model=model))
            for beam in (1, 2):
                beam_rows.append(
                    long_table(
                        tm, res.beams[beam]["coll"].slots, _beam_cols(out, beam), model=model, beam=beam, family="coll"
                    )
                )
            summary[f"case{case.case}/{model}/peak_total_ATLAS_cm2s"] = float(out["ATLAS"][0].sum() * M2S_TO_CM2S)
            summary[f"case{case.case}/{model}/final_total_ATLAS_cm2s"] = float(out["ATLAS"][-1].sum() * M2S_TO_CM2S)
            nc_settings = ModelSettings(
                **{**settings.__dict__, "sigma_bo_m2": 0.0, "sigma_el_m2": 0.0, "leveling": 0.0}
            )
            for beam in (1, 2):
                d = data(beam, "noncoll")
                if d.n.shape[1] == 0:
                    continue
                out = run_model(model, d, d, res.xing[1], res.xing[5], nc_settings, boff=False, collisions=False)
                beam_rows.append(
                    long_table(
                        tm,
                        res.beams[beam]["noncoll"].slots,
                        _beam_cols(out, 1),
                        model=model,
                        beam=beam,
                        family="noncoll",
                    )
                )
        write_parquet(p.model_beams(case.case), pd.concat(beam_rows, ignore_index=True))
        write_parquet(p.model_lumi(case.case), pd.concat(lumi_rows, ignore_index=True))
    write_json(
        p.model_json,
        {
            "fill": fill,
            "models": cfg.models,
            "cases": [c.__dict__ for c in cfg.cases],
            "settings": settings.__dict__,
            "time_range": res.time[:-1],
            "summary": summary,
        },
    )
    return summary


def _beam_cols(out: dict[str, np.ndarray], beam: int) -> dict[str, np.ndarray]:
    return {
        "intensity": out[f"n{beam}"],
        "eh": out[f"eh{beam}"],
        "ev": out[f"ev{beam}"],
        "eh_IBScorr": out[f"eh_ibs{beam}"],
        "ev_IBScorr": out[f"ev_ibs{beam}"],
        "bl_m": out[f"bl{beam}"] / 4 * C_LIGHT,
    }
