"""A pure-Python emulator of art's ``SamplingInput`` (spec §7), used as the stand-in ``mu2e``.

    python -m include.mu2e.emulator -c mu2e.fcl [-n MAX_EVENTS]

It reads the job's FHiCL (:mod:`include.mu2e.fhicl`), then for every event draws a dataset from
the discrete distribution of the weights with ``minstd_rand0`` seeded by ``samplingSeed``
(libstdc++'s ``generate_canonical`` and ``discrete_distribution``; datasets in name order), reads
that dataset's single file sequentially from ``skipToEvent``, and stops at ``maxEvents`` or the
first time a drawn dataset has no events left — the legacy semantics, flaws included. Inputs are
flat ntuples (:mod:`include.mu2e.ntuple`); the output (named by ``outputs.OutputMC.fileName``) is a
ROOT file with the sampled events and their ``SampledEventInfo`` columns. The end-of-job summary
is printed in the ``SamplingInput`` layout that :func:`include.mu2e.art.parse_summary` reads.
"""

from __future__ import annotations

import argparse
import bisect
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from include.core.errors import InputFileError, ProductionError
from include.mu2e import fhicl
from include.mu2e.ntuple import EVENT_BRANCHES

MINSTD_M = 2147483647
MINSTD_A = 16807


class MinstdRand0:
    """``std::minstd_rand0``: x ← 16807·x mod (2³¹ − 1); a seed ≡ 0 becomes 1."""

    min, max = 1, MINSTD_M - 1

    def __init__(self, seed: int):
        self.state = seed % MINSTD_M or 1

    def __call__(self) -> int:
        self.state = (MINSTD_A * self.state) % MINSTD_M
        return self.state


def generate_canonical(engine: MinstdRand0) -> float:
    """libstdc++ ``generate_canonical<double, 53>``: two draws for a 31-bit engine."""
    r = float(engine.max - engine.min + 1)
    k = max(1, int((53 + math.log2(r) - 1) // math.log2(r)))
    total, scale = 0.0, 1.0
    for _ in range(k):
        total += (engine() - engine.min) * scale
        scale *= r
    value = total / scale
    return math.nextafter(1.0, 0.0) if value >= 1.0 else value


class DiscreteDistribution:
    """``std::discrete_distribution``: lower_bound of a canonical draw in the cumulative weights."""

    def __init__(self, weights: list[float]):
        if not weights or any(w < 0 or not math.isfinite(w) for w in weights) or sum(weights) <= 0:
            raise ProductionError(f"SamplingInput weights must be >= 0 and sum to > 0, got {weights}")
        total = sum(weights)
        self.cumulative = list(np.cumsum([w / total for w in weights]))
        self.cumulative[-1] = 1.0

    def __call__(self, engine: MinstdRand0) -> int:
        return bisect.bisect_left(self.cumulative, generate_canonical(engine))


def _skip_index(events: dict[str, np.ndarray], skip: str, label: str) -> int:
    if not skip:
        return 0
    try:
        run, subrun, event = (int(x) for x in skip.split(":"))
    except ValueError:
        raise ProductionError(f"{label}: skipToEvent {skip!r} is not run:subrun:event") from None
    match = np.nonzero((events["run"] == run) & (events["subrun"] == subrun) & (events["event"] == event))[0]
    if match.size == 0:
        raise ProductionError(f"{label}: skipToEvent {skip} not found in its file")
    return int(match[0])


def sample(config: dict[str, Any], workdir: Path, max_events: int | None = None) -> dict[str, Any]:
    """Run the SamplingInput loop of ``config`` (parsed FHiCL) with inputs found in ``workdir``."""
    import uproot

    source = config["source"]
    if source.get("module_type") != "SamplingInput":
        raise ProductionError(f"source.module_type is {source.get('module_type')!r}, not SamplingInput")
    labels = sorted(source["dataSets"])
    blocks = [source["dataSets"][label] for label in labels]
    for label, block in zip(labels, blocks, strict=True):
        if len(block.get("fileNames", [])) != 1:
            raise ProductionError(f"{label}: exactly one file per dataset, got {block.get('fileNames')}")
    data, cursor = [], []
    for label, block in zip(labels, blocks, strict=True):
        path = workdir / block["fileNames"][0]
        if not path.is_file():
            raise InputFileError(path, f"input of dataset {label} is missing")
        with uproot.open(path) as f:
            arrays = f["Events"].arrays(list(EVENT_BRANCHES), library="np")
        data.append(arrays)
        cursor.append(_skip_index(arrays, block.get("skipToEvent", ""), label))
    limit = int(source.get("maxEvents", 1)) if max_events is None else max_events
    weights = [float(b["weight"]) for b in blocks]
    dist, engine = DiscreteDistribution(weights), MinstdRand0(int(source.get("samplingSeed", 1)))
    picks: list[tuple[int, int]] = []
    exhausted = None
    while len(picks) < limit:
        i = dist(engine)
        if cursor[i] >= len(data[i]["event"]):
            exhausted = labels[i]
            break
        picks.append((i, cursor[i]))
        cursor[i] += 1
    ids = np.array([p[0] for p in picks], dtype=np.int32)
    entries = np.array([p[1] for p in picks], dtype=np.int64)
    table: dict[str, np.ndarray] = {}
    for branch, dtype in EVENT_BRANCHES.items():
        column = np.zeros(len(picks), dtype=dtype)
        for i in range(len(labels)):
            mask = ids == i
            column[mask] = data[i][branch][entries[mask]]
        table["orig_" + branch if branch in ("run", "subrun", "event") else branch] = column
    probability = np.array(weights) / sum(weights)
    table.update(
        dataset_id=ids,
        source_entry=entries,
        weight=np.array(weights, dtype=np.float64)[ids] if len(ids) else np.zeros(0),
        probability=probability[ids] if len(ids) else np.zeros(0),
        run=np.full(len(picks), int(source.get("run", 1)), dtype=np.int32),
        subRun=np.full(len(picks), int(source.get("subRun", 0)), dtype=np.int32),
        event=np.arange(1, len(picks) + 1, dtype=np.int32),
    )
    output = workdir / config["outputs"]["OutputMC"]["fileName"]
    with uproot.recreate(output) as out:
        out["Events"] = table
        out["datasets"] = ",".join(labels)
    counts = {label: int((ids == i).sum()) for i, label in enumerate(labels)}
    next_event = {}
    for i, label in enumerate(labels):
        if cursor[i] < len(data[i]["event"]):
            d = data[i]
            c = cursor[i]
            next_event[label] = f"run: {d['run'][c]} subRun: {d['subrun'][c]} event: {d['event'][c]}"
        else:
            next_event[label] = "(no more available)"
    return {
        "labels": labels,
        "counts": counts,
        "weights": dict(zip(labels, weights, strict=True)),
        "next_event": next_event,
        "total": len(picks),
        "exhausted": exhausted,
        "output": output.name,
    }


def format_summary(result: dict[str, Any]) -> str:
    """The ``SamplingInput`` end-of-job table."""
    total = result["total"]
    wsum = sum(result["weights"].values())
    header = "Dataset | Counts | Sample fraction | Expected fraction | Specified weight | Next event"
    lines = ["%MSG-i SamplingInput: end of job summary", header]
    for label in result["labels"]:
        n, w = result["counts"][label], result["weights"][label]
        lines.append(
            f"{label} | {n} | {n / total if total else 0:.6f} | {w / wsum:.6f} | {w:e} | {result['next_event'][label]}"
        )
    lines.append(f"Total {total}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mu2e", description="Stand-in mu2e: emulate SamplingInput for a job fcl.")
    parser.add_argument("-c", "--config", required=True, type=Path)
    parser.add_argument("-n", "--nevts", type=int, default=None, help="override source.maxEvents")
    args = parser.parse_args(argv)
    try:
        config = fhicl.loads(args.config.read_text(), str(args.config))
        result = sample(config, args.config.resolve().parent, args.nevts)
    except (OSError, ProductionError) as exc:
        print(f"mu2e: {exc}", file=sys.stderr)
        return 1
    print(format_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
