"""Process one chunk: read the needed branches, select probes, run every method, write its parts.

Histogram methods write a per-chunk pickle that :mod:`include.tnp.merge` sums; array methods
write their ``-part<i>`` parquet files directly into the final method folder. ``chunk.json``
holds the report record of the chunk and the counts per method and filter.
"""

from __future__ import annotations

import builtins
import pickle
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import awkward as ak

from include.core import atomic
from include.core.errors import InputFileError
from include.tnp import nanoaod, ntuples
from include.tnp.config import MethodCall
from include.tnp.corrections import load_extra_filter, lumi_mask, pileup_weight
from include.tnp.histograms import flatten_probes, nd_histograms, one_d_histograms, split_passing_failing
from include.tnp.naming import parquet_files
from include.tnp.options import NANOAOD_WORKFLOWS, TnPOptions

CHUNK_RECORD = "chunk.json"
HIST_METHODS = ("get_nd_tnp_histograms", "get_1d_pt_eta_phi_tnp_histograms")


def chunk_pickle(method: MethodCall) -> str:
    """Name of a histogram method's per-chunk pickle inside the chunk folder."""
    return f"{method.folder}__{method.filter}.pkl".replace(" ", "_").replace("/", "_")


def _workflow_module(workflow: str) -> Any:
    return nanoaod if workflow in NANOAOD_WORKFLOWS else ntuples


def _selection_key(method: MethodCall) -> tuple:
    """Methods with the same key share one selection (vars only add output columns)."""
    args = method.args
    mr = args.get("mass_range")
    return (bool(args.get("cut_and_count", True)), tuple(mr) if isinstance(mr, list) else mr)


def _union_vars(methods: list[MethodCall], key: tuple, default: list[str]) -> list[str] | str:
    chosen: list[str] = []
    for m in methods:
        if _selection_key(m) != key:
            continue
        vars_ = m.args.get("vars") or default
        if vars_ == "all":
            return "all"
        chosen += [v for v in vars_ if v not in chosen]
    return chosen


def _only_vars(table: ak.Array, method_vars: list[str] | str, union: list[str] | str) -> ak.Array:
    """Drop the vars another method sharing the selection asked for."""
    if method_vars == "all" or union == "all":
        return table
    extra = set(union) - set(method_vars)
    return table[[f for f in table.fields if f not in extra]] if extra else table


def _read_errors_allowed(methods: list[MethodCall], exc: BaseException) -> bool:
    for m in methods:
        allowed = (m.args.get("uproot_options") or {}).get("allow_read_errors_with_report", False)
        if allowed is True:
            return True
        if isinstance(allowed, list) and any(isinstance(exc, getattr(builtins, n)) for n in allowed):
            return True
    return False


def _write_parquet(table: ak.Array, path: Path, flat: bool) -> None:
    if flat and len(table.fields):
        table = ak.Array(flatten_probes(table)) if len(table) else table
    with atomic.atomic_path(path) as tmp:
        ak.to_parquet(table, tmp, extensionarray=False)


def _counts(passing: ak.Array, failing: ak.Array, filter_name: str, table: ak.Array) -> dict[str, int]:
    flag = table[filter_name]
    jagged = flag.ndim > 1
    return {
        "passing": len(passing),
        "failing": len(failing),
        "passing_probes": int(ak.sum(flag)) if jagged else len(passing),
        "failing_probes": int(ak.sum(~flag)) if jagged else len(failing),
    }


def process_chunk(
    plan: dict[str, Any],
    dataset: dict[str, Any],
    chunk: dict[str, Any],
    workdir: Path,
    run_dir: Path,
    data_root: Path,
) -> dict[str, Any]:
    """Run every method of the plan on one chunk; return the chunk record (also written to chunk.json)."""
    import uproot

    t_start, t0 = datetime.now(UTC), time.perf_counter()
    opts = TnPOptions.from_dict(plan["options"])
    methods = [MethodCall.from_dict(m) for m in plan["methods"]]
    module = _workflow_module(opts.workflow)
    is_mc = bool(dataset["is_mc"])
    record: dict[str, Any] = {
        "call_time": t_start.isoformat(),
        "duration": 0.0,
        "performance_counters": {},
        "args": [chunk["file"], chunk["tree"], chunk["start"], chunk["stop"]],
        "kwargs": {"dataset": dataset["name"], "chunk": chunk["index"]},
        "exception": None,
        "message": None,
        "fqdn": socket.getfqdn(),
        "hostname": socket.gethostname(),
    }
    outputs: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    try:
        with uproot.open(chunk["file"]) as handle:
            tree = handle[chunk["tree"]]
            keys = set(tree.keys())
            branches: set[str] = set()
            for m in methods:
                vars_ = m.args.get("vars") or opts.default_vars
                try:
                    branches |= set(module.required_branches(opts, keys, vars_, is_mc))
                except nanoaod.MissingBranchError as exc:
                    raise InputFileError(chunk["file"], f"tree {chunk['tree']!r}: {exc.args[0]}") from exc
            events = tree.arrays(sorted(branches), entry_start=chunk["start"], entry_stop=chunk["stop"])
            record["performance_counters"] = {
                "num_entries": chunk["stop"] - chunk["start"],
                "num_branches": len(branches),
            }
    except InputFileError:
        raise
    except Exception as exc:
        if not _read_errors_allowed(methods, exc):
            raise InputFileError(chunk["file"], f"cannot read entries {chunk['start']}-{chunk['stop']}: {exc}") from exc
        record.update(exception=type(exc).__name__, message=str(exc)[:500])
        events = None

    if events is not None:
        metadata = dataset.get("metadata") or {}
        golden = metadata.get("goldenJSON")
        select = {
            "is_mc": is_mc,
            "lumimask": lumi_mask(golden) if golden and not is_mc else None,
            "extra_filter": load_extra_filter(opts.extra_filter, data_root),
            "pileup_weight": pileup_weight(metadata) if is_mc else None,
        }
        cache: dict[tuple, Any] = {}
        filter_names = list(opts.filters)
        for m in methods:
            key = _selection_key(m)
            union = _union_vars(methods, key, opts.default_vars)
            if key not in cache:
                cache[key] = module.find_probes(
                    events, opts, cut_and_count=key[0], mass_range=m.args.get("mass_range"), vars=union, **select
                )
            vars_ = m.args.get("vars") or opts.default_vars
            table = _only_vars(cache[key].table, vars_, union)
            folder = run_dir / dataset["folder"] / m.folder
            if m.name == "get_tnp_arrays":
                path = folder / parquet_files(m.name, None, chunk["index"])[0]
                _write_parquet(table, path, bool(m.args.get("flat")))
                outputs.append(str(path))
                counts[f"{m.folder}"] = {"events": len(table)}
                continue
            passing, failing = split_passing_failing(table, m.filter, filter_names)
            counts[f"{m.folder}/{m.filter}"] = _counts(passing, failing, m.filter, table)
            if m.name == "get_passing_and_failing_probes":
                for side, part in zip((passing, failing), parquet_files(m.name, m.filter, chunk["index"]), strict=True):
                    _write_parquet(side, folder / part, bool(m.args.get("flat")))
                    outputs.append(str(folder / part))
                continue
            weight = m.args.get("weight", "weight")
            binning = plan["binning"]
            if m.name == "get_nd_tnp_histograms":
                histos = nd_histograms(passing, failing, list(vars_), binning, cut_and_count=key[0], weight=weight)
            else:
                histos = one_d_histograms(
                    passing,
                    failing,
                    list(vars_),
                    binning,
                    cut_and_count=key[0],
                    plateau_cut=m.args.get("plateau_cut"),
                    eta_regions_pt=m.args.get("eta_regions_pt"),
                    phi_regions_eta=m.args.get("phi_regions_eta"),
                    eta_regions_phi=m.args.get("eta_regions_phi"),
                    weight=weight,
                )
            atomic.write_bytes(workdir / chunk_pickle(m), pickle.dumps(histos, protocol=pickle.HIGHEST_PROTOCOL))
            outputs.append(str(workdir / chunk_pickle(m)))
        record["performance_counters"]["sum_genweight"] = next(iter(cache.values())).sum_genweight if cache else None
    record["duration"] = round(time.perf_counter() - t0, 6)
    result = {"record": record, "counts": counts, "outputs": outputs, "events": chunk["stop"] - chunk["start"]}
    atomic.write_json(workdir / CHUNK_RECORD, result)
    return result
