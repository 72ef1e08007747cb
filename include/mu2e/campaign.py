"""Stage 1: the campaign config — livetime from the cosmic inputs, POT, events and jobs per process.

``build_campaign(spec, data_dir)`` reads the first ``njobs`` files of every requested dataset (one
ordering, used for both the efficiencies and the jobs), sums the cosmic livetime, normalises
(:mod:`include.mu2e.normalizations`) and returns the campaign record (documented JSON form,
schema :data:`SCHEMA`). When any process needs more events than its files hold, it raises
:class:`ShortfallError` listing every short process — before any job is built.
:func:`legacy_text` renders the shell-sourceable ``<TAG>.txt`` of spec §5.

The JSON form (``<TAG>.json``, schema ``hep-productions/mu2e-campaign/1``):

* ``tag``, ``spec`` (the form: processes, njobs, seed, dataset configurations, run, ``norm`` with
  BB, livetime, mode, R_µe and the minimum energies), ``seeds`` (``stage1``, ``stage2_base``);
* ``beam``: ``onspill_s``, ``wallclock_s``, ``cosmic_livetime_target_s``, ``n_pot``, ``n_mu_stops``;
* ``means`` and ``factors`` per process (generator-level λ and the factors it is the product of),
  ``constants``, ``beam_constants``, ``stop_rates`` and ``tables`` (sha256 of the spectrum tables);
* ``processes``: per process the ``dataset``, the ``files`` used (relative to the data folder, in
  catalogue order, the same list the jobs use), ``entries_per_file``, ``reco`` (entries), ``gen``
  (generated count; cosmics also ``livetime_available_s`` / ``livetime_target_s``), ``mu`` (expected
  entries in the ensemble = mean · reco/gen), ``needed`` (μ + margin·√μ) and ``files_needed``;
* ``weights`` (μ_P / Σμ), ``expected_total`` (Σμ) and ``n_tot_draw`` (a seeded Poisson(Σμ), for
  information only).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from include.core.errors import ParamError, ProductionError
from include.mu2e import form
from include.mu2e.constants import beam_mode
from include.mu2e.datasets import dataset_name
from include.mu2e.form import COSMIC, DEFAULT_PROCESSES, PROCESSES
from include.mu2e.naming import check_configuration, check_tag, derive_seed
from include.mu2e.normalizations import Normalization, NormParams
from include.mu2e.ntuple import FileInfo, dataset_files, read_info

SCHEMA = "hep-productions/mu2e-campaign/1"
MAX_JOBS = form.MAX_JOBS


class ShortfallError(ProductionError):
    """Inputs hold fewer events (or livetime) than the campaign needs; lists every short process."""

    permanent = True

    def __init__(self, shortfalls: dict[str, dict[str, Any]]):
        lines = [
            f"{p}: needs {s['needed']:.6g} {s['unit']}, inputs hold {s['available']:.6g} "
            f"(short by {s['needed'] - s['available']:.6g}; {s['dataset']})"
            for p, s in sorted(shortfalls.items())
        ]
        super().__init__("insufficient inputs, no job was built:\n  " + "\n  ".join(lines))
        self.shortfalls = shortfalls


@dataclass(frozen=True)
class CampaignSpec:
    """The trigger form of one ensemble (stage 1 and 2 settings)."""

    tag: str = form.DEFAULT_TAG
    processes: tuple[str, ...] = DEFAULT_PROCESSES
    njobs: int = form.DEFAULT_NJOBS
    seed: int = form.DEFAULT_SEED
    cosmics: str = "MDC2025ac"
    stops: str = "MDC2025ac"
    gen: str = "Signal"
    release: str = "MDC2025"
    version: str = "af"
    run: int = 1430
    margin_sigma: float = 5.0
    livetime_from_inputs: bool = False
    norm: NormParams = field(default_factory=NormParams)

    def __post_init__(self) -> None:
        check_tag(self.tag)
        check_configuration(self.cosmics, "cosmics")
        check_configuration(self.stops, "stops")
        check_configuration(self.release + self.version, "release/version")
        if not re.match(r"^[A-Za-z]+$", self.gen):
            raise ParamError("gen", f"{self.gen!r} must be letters only (e.g. Signal)")
        if not (1 <= self.njobs <= MAX_JOBS):
            raise ParamError("njobs", f"{self.njobs} must be between 1 and {MAX_JOBS}")
        if not self.processes or len(set(self.processes)) != len(self.processes):
            raise ParamError("processes", "give at least one process, each once")
        for p in self.processes:
            if p not in (COSMIC, *PROCESSES):
                raise ParamError("processes", f"{p!r} is not one of {', '.join((COSMIC, *PROCESSES))}")
        if not (0 <= self.margin_sigma <= 20):
            raise ParamError("margin_sigma", f"{self.margin_sigma} must be within [0, 20]")
        if not (1 <= self.run < 1_000_000):
            raise ParamError("run", f"{self.run} must fit %06d")

    @property
    def dsconf(self) -> str:
        return f"{self.release}{self.version}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["processes"] = list(self.processes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CampaignSpec:
        data = dict(data)
        norm = NormParams(**data.pop("norm", {}))
        data["processes"] = tuple(data.get("processes", cls.processes))
        return cls(norm=norm, **data)


def dataset_for(spec: CampaignSpec, process: str, fmt: str = "root") -> str:
    return dataset_name(
        process,
        cosmics=spec.cosmics,
        gen=spec.gen,
        release=spec.release,
        version=spec.version,
        dem_emin=spec.norm.dem_emin,
        fmt=fmt,
    )


def _inputs(spec: CampaignSpec, data_dir: Path) -> dict[str, list[FileInfo]]:
    found: dict[str, list[FileInfo]] = {}
    too_few = {}
    for process in spec.processes:
        files = dataset_files(data_dir / dataset_for(spec, process))
        if len(files) < spec.njobs:
            too_few[process] = {
                "needed": spec.njobs,
                "available": len(files),
                "unit": "files",
                "dataset": dataset_for(spec, process),
            }
        found[process] = [read_info(f) for f in files[: spec.njobs]]
    if too_few:
        raise ShortfallError(too_few)
    return found


def _files_needed(infos: list[FileInfo], needed: float) -> int:
    cumulative = np.cumsum([i.entries for i in infos])
    return int(min(np.searchsorted(cumulative, needed) + 1, len(infos)))


def build_campaign(spec: CampaignSpec, data_dir: str | Path) -> dict[str, Any]:
    """The stage-1 record; raises :class:`ShortfallError` before anything is written."""
    data_dir = Path(data_dir)
    inputs = _inputs(spec, data_dir)
    cosmic_infos = inputs.get(COSMIC, [])
    available_livetime = sum(i.livetime_s for i in cosmic_infos)
    norm_params = spec.norm
    if spec.livetime_from_inputs:  # legacy: t_on (or t_wall = t_on / DF) is the cosmic sum
        if available_livetime <= 0:
            raise ParamError("livetime", "livetime_from_inputs needs cosmic files with livetime")
        value = available_livetime
        if norm_params.livetime_mode == "wallclock":  # cosmic target t_wall·DF = available
            value = available_livetime / beam_mode(norm_params.bb).duty_factor
        norm = Normalization(NormParams(**{**norm_params.to_dict(), "livetime_s": value}))
    else:
        norm = Normalization(norm_params)
    processes: dict[str, dict[str, Any]] = {}
    shortfalls: dict[str, dict[str, Any]] = {}
    for process in spec.processes:
        infos = inputs[process]
        reco = sum(i.entries for i in infos)
        gen = sum(i.gen_count for i in infos)
        entry: dict[str, Any] = {
            "dataset": dataset_for(spec, process),
            "files": [Path(i.path).relative_to(data_dir).as_posix() for i in infos],
            "entries_per_file": [i.entries for i in infos],
            "reco": reco,
            "gen": gen,
        }
        if process == COSMIC:
            target = norm.livetime.cosmic_target_s
            entry.update(livetime_available_s=available_livetime, livetime_target_s=target, mean=target)
            mu = target * reco / available_livetime if available_livetime > 0 else math.inf
            if target > available_livetime * (1 + 1e-12):
                shortfalls[process] = {
                    "needed": target,
                    "available": available_livetime,
                    "unit": "s of cosmic livetime",
                    "dataset": entry["dataset"],
                }
            needed = math.ceil(mu - 1e-9) if math.isfinite(mu) else math.inf
        else:
            mean = norm.yield_of(process).mean
            mu = mean * reco / gen if gen > 0 else math.inf
            entry.update(mean=mean, factors=norm.yield_of(process).factors)
            needed = math.ceil(mu + spec.margin_sigma * math.sqrt(mu)) if math.isfinite(mu) else math.inf
            if gen < mean or reco < needed:
                shortfalls[process] = {
                    "needed": needed if math.isfinite(needed) else mean,
                    "available": reco,
                    "unit": "events",
                    "dataset": entry["dataset"],
                    "generated": gen,
                    "yield": mean,
                }
        entry.update(mu=mu, needed=needed)
        if math.isfinite(needed):
            entry["files_needed"] = _files_needed(infos, needed)
        processes[process] = entry
    if shortfalls:
        raise ShortfallError(shortfalls)
    total = sum(p["mu"] for p in processes.values())
    stage1_seed = derive_seed(spec.tag, "stage1", 0, spec.seed)
    record = norm.report(processes=list(spec.processes))
    for key in ("draws", "draw_seed"):
        record.pop(key, None)
    record.update(
        schema=SCHEMA,
        tag=spec.tag,
        spec=spec.to_dict(),
        processes=processes,
        weights={p: v["mu"] / total for p, v in processes.items()},
        expected_total=total,
        seeds={"stage1": stage1_seed, "stage2_base": spec.seed},
        n_tot_draw=int(np.random.default_rng(stage1_seed).poisson(total)),
    )
    return record


# -- legacy text form ----------------------------------------------------------------------------

_YIELD_KEYS = {
    "DIO": "dio_events",
    "IPAMichel": "ipa_events",
    "RPCInternal": "rpc_internal_events",
    "RPCExternal": "rpc_external_events",
    "RMCInternal": "rmc_internal_events",
    "RMCExternal": "rmc_external_events",
    "CeMLeadingLog": "cem_events",
    "CePLeadingLog": "cep_events",
}


def legacy_pairs(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, value) pairs of ``<TAG>.txt`` (spec §5): run parameters, beam, yields, new keys."""
    spec, beam, norm = record["spec"], record["beam"], record["spec"]["norm"]
    rates = record["stop_rates"]
    pairs = [
        ("njobs", spec["njobs"]),
        ("CosmicJob", spec["cosmics"]),
        ("CosmicGen", spec["gen"]),
        ("primaries", spec["stops"]),
        ("muon_stops", f"{rates['target_mu_stops_per_pot']:.6e}"),
        ("onspilltime", f"{beam['onspill_s']:.6f}"),
        ("BB", beam["BB"]),
        ("DEM_emin", norm["dem_emin"]),
        ("RPC_TMIN", norm["tmin"]),
        ("RPC_emin", norm["rpc_emin"]),
        ("RMC_emin", norm["rmc_emin"]),
        ("RMC_kmax", norm["rmc_kmax"]),
        ("IPA_emin", norm["ipa_emin"]),
        ("beam_onspill_time", f"{beam['onspill_s']:.6f}"),
        ("beam_livetime", f"{beam['wallclock_s']:.6f}"),
        ("beam_npot", f"{beam['n_pot']:.6e}"),
        ("beam_nmot", f"{beam['n_mu_stops']:.6e}"),
        ("beam_pot", f"{beam['n_pot']:.6e}"),
    ]
    for process, key in _YIELD_KEYS.items():
        if process in record["means"]:
            pairs.append((key, f"{record['means'][process]:.6e}"))
    pairs += [
        ("livetime_mode", beam["livetime_mode"]),
        ("beam_walltime", f"{beam['wallclock_s']:.6f}"),
        ("seed", spec["seed"]),
        ("conditions", norm["conditions"]),
    ]
    pairs += [(f"db_{k}", f"{v:.10g}") for k, v in rates.items() if isinstance(v, float)]
    return [(k, str(v)) for k, v in pairs]


def legacy_text(record: dict[str, Any]) -> str:
    """Shell-sourceable ``key="value"`` lines."""
    return "".join(f'{k}="{v}"\n' for k, v in legacy_pairs(record))


def oct2024_text(record: dict[str, Any]) -> str:
    """The Oct-2024 ``key= value`` layout (wallclock option of spec §5)."""
    spec, beam, means = record["spec"], record["beam"], record["means"]
    beam_constants = record["beam_constants"]
    dio = record["factors"].get("DIO", {})
    pairs = [
        ("njobs", spec["njobs"]),
        ("cosmicjob", spec["cosmics"]),
        ("primaries", spec["stops"]),
        ("rmue", spec["norm"]["rue"]),
        ("dem_emin", spec["norm"]["dem_emin"]),
        ("stops", f"{record['stop_rates']['target_mu_stops_per_pot']:.6e}"),
        ("livetime", f"{beam['wallclock_s']:.6f}"),
        ("BB", beam["BB"]),
        ("Tcycle", beam_constants["cycle_s"]),
        ("POT_per_cycle", f"{beam_constants['pot_per_cycle']:.6e}"),
        ("onspilltime", f"{beam['onspill_s']:.6f}"),
        ("NPOT", f"{beam['n_pot']:.6e}"),
        ("CEMLL", f"{means.get('CeMLeadingLog', 0.0):.6e}"),
        ("DIOfrac", f"{dio.get('f_dio', 0.0):.6e}"),
        ("DIO", f"{means.get('DIO', 0.0):.6e}"),
        ("CORSIKA", f"{record.get('cosmic_livetime_target_s', 0.0):.6f}"),
        ("InternalRPC", f"{means.get('RPCInternal', 0.0):.6e}"),
        ("ExternalRPC", f"{means.get('RPCExternal', 0.0):.6e}"),
    ]
    return "".join(f"{k}= {v}\n" for k, v in pairs)


def read_legacy(text: str) -> dict[str, str]:
    """Parse either text form: ``key="value"``, ``key=value`` or ``key= value``; ``#``/``=====`` lines skipped."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "=")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        out[key.strip()] = value.strip().strip('"')
    return out
