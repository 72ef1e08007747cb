"""Native stage 2: mix flat ntuple inputs into ensemble files, following SamplingInput's semantics
without its flaws (spec §7, §12).

* Per-job seeds derived from (tag, ``stage2``, job index, base seed); counts per process are
  Poisson draws with the job's share of μ_P (equivalent to SamplingInput's multinomial dataset
  draws with a Poisson total); cosmics are the livetime standard and are split exactly.
* Entries are read sequentially from each dataset's files; the ranges come from the ledger
  (:mod:`include.mu2e.ledger`), so no (file, entry) goes into two jobs.
* A dataset that runs out does not end the job: the job takes what is left, records the shortfall
  for that process and goes on with the others.
* Output: ROOT (uproot) or parquet with truth columns (``process_id``, parquet also ``process``),
  the source file and entry, and events renumbered from 1 in the drawn order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from include.core import atomic
from include.core.errors import ParamError
from include.core.fingerprint import hash_object
from include.mu2e import ledger
from include.mu2e.form import OUTPUT_FORMATS
from include.mu2e.naming import derive_seed, file_name, sequencer
from include.mu2e.normalizations import ALL_PROCESSES, COSMIC
from include.mu2e.ntuple import EVENT_BRANCHES, read_entries

PLAN_SCHEMA = "hep-productions/mu2e-jobs/1"
PROCESS_ID = {name: i for i, name in enumerate(ALL_PROCESSES)}


def split_exact(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers differing by at most one (the first get the extra)."""
    base, extra = divmod(total, parts)
    return [base + (1 if j < extra else 0) for j in range(parts)]


def build_plan(record: dict[str, Any], *, fmt: str = "parquet", ledger_url: str) -> dict[str, Any]:
    """Jobs of the ensemble: seeds and per-process counts; ranges reserved in job order.

    Reserving in job order makes the whole ensemble reproducible; each job later gets the same
    ranges back from the ledger (:func:`ledger.claim` is idempotent).
    """
    if fmt not in OUTPUT_FORMATS:
        raise ParamError("output_format", f"{fmt!r} is not one of {', '.join(OUTPUT_FORMATS)}")
    spec = record["spec"]
    njobs, tag, base = spec["njobs"], record["tag"], spec["seed"]
    processes = record["processes"]
    cosmic_split = split_exact(round(processes[COSMIC]["mu"]), njobs) if COSMIC in processes else [0] * njobs
    jobs = []
    for j in range(njobs):
        seed = derive_seed(tag, "stage2", j, base)
        rng = np.random.default_rng(seed)
        expected = {p: v["mu"] / njobs for p, v in processes.items()}
        counts = {}
        for p in sorted(processes):
            counts[p] = cosmic_split[j] if p == COSMIC else int(rng.poisson(expected[p]))
        jobs.append(
            {
                "index": j,
                "seed": seed,
                "unit": f"job_{j:04d}",
                "counts": counts,
                "expected": expected,
                "output": file_name(
                    "dts",
                    "mu2e",
                    f"ensemble{tag}",
                    f"{spec['release']}{spec['version']}",
                    sequencer(spec["run"], j),
                    fmt,
                ),
            }
        )
    identity = {"processes": {p: [v["files"], v["entries_per_file"]] for p, v in processes.items()}, "jobs": jobs}
    ensemble = f"{tag}-{hash_object(identity)[:12]}"
    plan = {
        "schema": PLAN_SCHEMA,
        "tag": tag,
        "ensemble": ensemble,
        "format": fmt,
        "njobs": njobs,
        "run": spec["run"],
        "weights": record["weights"],
        "jobs": jobs,
    }
    for job in jobs:
        held = claim_job(plan, record, job, ledger_url)
        job["ranges"] = {p: [r.to_dict() for r in held[p]] for p in sorted(held)}
    return plan


def claim_job(plan: dict[str, Any], record: dict[str, Any], job: dict[str, Any], url: str) -> dict[str, list]:
    """The ledger ranges of ``job`` per process (taken now, or the ones it already holds)."""
    out = {}
    for process in sorted(job["counts"]):
        info = record["processes"][process]
        files = list(zip(info["files"], info["entries_per_file"], strict=True))
        out[process] = ledger.claim(url, plan["ensemble"], job["index"], info["dataset"], files, job["counts"][process])
    return out


def mix_job(
    plan: dict[str, Any],
    record: dict[str, Any],
    index: int,
    data_dir: str | Path,
    out_dir: str | Path,
    ledger_url: str,
) -> dict[str, Any]:
    """Run job ``index``: read its ranges, shuffle in the drawn order, write the ensemble file and
    ``counts.json`` (counts per process, shortfalls, seed, ranges). Returns the counts record."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    job = plan["jobs"][index]
    held = claim_job(plan, record, job, ledger_url)
    columns: dict[str, list[np.ndarray]] = {k: [] for k in EVENT_BRANCHES}
    extra: dict[str, list[np.ndarray]] = {"process_id": [], "source_file_id": [], "source_entry": []}
    source_files: list[str] = []
    counts, shortfalls = {}, {}
    for process in sorted(held):
        taken = 0
        for rng_ in held[process]:
            arrays = read_entries(data_dir / rng_.file, rng_.first, rng_.stop)
            n = rng_.stop - rng_.first
            for k in EVENT_BRANCHES:
                columns[k].append(arrays[k])
            source_files.append(rng_.file)
            extra["process_id"].append(np.full(n, PROCESS_ID[process], dtype=np.int32))
            extra["source_file_id"].append(np.full(n, len(source_files) - 1, dtype=np.int32))
            extra["source_entry"].append(np.arange(rng_.first, rng_.stop, dtype=np.int64))
            taken += n
        counts[process] = taken
        if taken < job["counts"][process]:
            shortfalls[process] = {"requested": job["counts"][process], "taken": taken}
    table = {k: _concat(v, EVENT_BRANCHES.get(k, "int64")) for k, v in {**columns, **extra}.items()}
    table["process_id"] = table["process_id"].astype(np.int32)
    table["source_file_id"] = table["source_file_id"].astype(np.int32)
    order = np.random.default_rng([job["seed"], 1]).permutation(len(table["process_id"]))
    table = {k: v[order] for k, v in table.items()}
    table["source_event"] = table.pop("event")
    table["source_run"] = table.pop("run")
    table["source_subrun"] = table.pop("subrun")
    table["event"] = np.arange(1, len(order) + 1, dtype=np.int32)
    weights = np.array([plan["weights"].get(name, 0.0) for name in ALL_PROCESSES], dtype=np.float64)
    table["weight"] = weights[table["process_id"]]
    output = out_dir / job["output"]
    write_ensemble(output, table, source_files, plan["format"])
    result = {
        "job": index,
        "seed": job["seed"],
        "output": output.name,
        "events": len(order),
        "counts": counts,
        "requested": job["counts"],
        "expected": job["expected"],
        "shortfalls": shortfalls,
        "ended_early": bool(shortfalls),
        "source_files": source_files,
        "ranges": {p: [r.to_dict() for r in rs] for p, rs in held.items()},
    }
    atomic.write_json(out_dir / "counts.json", result)
    return result


def _concat(parts: list[np.ndarray], dtype: str) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def write_ensemble(path: Path, table: dict[str, np.ndarray], source_files: list[str], fmt: str) -> Path:
    """Write one ensemble file (atomically); the process and source-file name tables go with it."""
    names = {"processes": list(ALL_PROCESSES), "source_files": source_files}
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        data: dict[str, Any] = dict(table)
        data["process"] = pa.DictionaryArray.from_arrays(pa.array(table["process_id"]), pa.array(ALL_PROCESSES))
        arrow = pa.table(data).replace_schema_metadata({"mu2e": json.dumps(names)})
        with atomic.atomic_path(path) as tmp:
            pq.write_table(arrow, tmp)
        return path
    import uproot

    with atomic.atomic_path(path) as tmp, uproot.recreate(tmp) as out:
        out["Ensemble"] = table
        out["names"] = json.dumps(names)
    return path


def read_ensemble(
    path: str | Path, columns: list[str] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Columns (all, or ``columns``) and name tables of an ensemble file written by :func:`write_ensemble`."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        arrow = pq.read_table(path, columns=columns)
        names = json.loads(arrow.schema.metadata[b"mu2e"])
        columns = {c: arrow[c].to_numpy(zero_copy_only=False) for c in arrow.column_names if c != "process"}
        if "process" in arrow.column_names:
            columns["process"] = np.asarray(arrow["process"].to_pylist(), dtype=object)
        return columns, names
    import uproot

    with uproot.open(path) as f:
        names = json.loads(str(f["names"]))
        return f["Ensemble"].arrays(columns, library="np"), names


def chi_square(observed: dict[str, int], expected: dict[str, float], min_mean: float = 5.0) -> dict[str, Any]:
    """Pearson χ² of Poisson counts over processes with mean ≥ ``min_mean``, and its p-value."""
    from scipy import stats

    used = sorted(p for p, mu in expected.items() if mu >= min_mean)
    chi2 = float(sum((observed[p] - expected[p]) ** 2 / expected[p] for p in used))
    per_process = {}
    for p, mu in expected.items():
        n = observed[p]
        low, high = stats.poisson.cdf(n, mu), stats.poisson.sf(n - 1, mu)
        per_process[p] = {"observed": n, "expected": mu, "p_two_sided": float(min(1.0, 2 * min(low, high)))}
    p_value = float(stats.chi2.sf(chi2, len(used))) if used else 1.0
    return {"chi2": chi2, "dof": len(used), "p_value": p_value, "processes": per_process, "min_mean": min_mean}
