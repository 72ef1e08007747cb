"""Benchmark: electron NanoAOD tag-and-probe (the E1 trigger configuration) on one core.

    python bench/tnp_electron_nanoaod.py [--sample DYto2E.root] [--events 1000000] [--chunk 100000]

Replicates the real sample's needed branches to ``--events`` events in a temporary NanoAOD-layout
file, then, in a fresh process pinned to one core, reads it chunk by chunk and runs the selection,
the passing/failing split and the N-dimensional histogram fill. Prints events/s (total, and the
read and compute parts) and the peak resident memory of the measuring process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HLT = "HLT_Ele32_WPTight_Gsf"
RUNNER = {
    "workflow": "ElectronTagNProbeFromNanoAOD",
    "workflow_args": {"filters": {HLT: HLT}, "trigger_pt": [32], "filterbit": [1]},
    "methods": [
        {"name": "get_nd_tnp_histograms", "args": {"filter": HLT, "cut_and_count": False, "vars": ["el_pt", "el_eta"]}}
    ],
}
SETTINGS = {
    "tags_pt_cut": 35,
    "probes_pt_cut": 27,
    "tags_abseta_cut": 2.17,
    "cutbased_id": "cutBased >= 4",
    "use_sc_eta": True,
}
DEFAULT_SAMPLE = Path(os.environ.get("HEP_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _options():
    from include.tnp.config import build_options, load_runner

    return build_options(load_runner(RUNNER), SETTINGS)


def replicate(sample: Path, target: Path, n_events: int) -> float:
    """Write ``n_events`` events made of copies of the sample's needed branches; return seconds."""
    import awkward as ak
    import numpy as np
    import uproot

    from include.tnp.nanoaod import required_branches

    t0 = time.perf_counter()
    tree = uproot.open(sample)["Events"]
    opts = _options()
    branches = required_branches(opts, set(tree.keys()), ["el_pt", "el_eta"], False)
    base = tree.arrays(branches)
    copies = -(-n_events // len(base))
    groups: dict[str, dict] = {}
    flat: dict = {}
    for name in branches:
        column = ak.concatenate([base[name]] * copies)[:n_events]
        coll, _, field = name.partition("_")
        if coll in ("Electron", "TrigObj"):
            groups.setdefault(coll, {})[field] = column
        else:
            flat[name] = ak.to_numpy(column)
    flat["event"] = np.arange(n_events, dtype=np.uint64)
    data = {**flat, **{c: ak.zip(f) for c, f in groups.items()}}
    with uproot.recreate(target) as out:
        types = {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
        out.mktree("Events", types, field_name=lambda o, i: f"{o}_{i}", counter_name=lambda c: f"n{c}")
        step = 200_000
        for start in range(0, n_events, step):
            out["Events"].extend({k: v[start : start + step] for k, v in data.items()})
    return time.perf_counter() - t0


def measure(path: Path, chunk: int) -> dict:
    """Read + select + split + fill, chunk by chunk, in this (single-core) process."""
    import uproot

    from include.tnp.config import default_binning
    from include.tnp.histograms import add_histograms, nd_histograms, split_passing_failing
    from include.tnp.nanoaod import find_probes, required_branches

    opts = _options()
    binning = default_binning()
    read_s = compute_s = 0.0
    n = passing = failing = 0
    total = None
    t_all = time.perf_counter()
    with uproot.open(path) as handle:
        tree = handle["Events"]
        branches = required_branches(opts, set(tree.keys()), ["el_pt", "el_eta"], False)
        for start in range(0, tree.num_entries, chunk):
            t0 = time.perf_counter()
            events = tree.arrays(branches, entry_start=start, entry_stop=start + chunk)
            t1 = time.perf_counter()
            table = find_probes(events, opts, cut_and_count=False, vars=["el_pt", "el_eta"]).table
            p, f = split_passing_failing(table, HLT, [HLT])
            h = nd_histograms(p, f, ["el_pt", "el_eta"], binning, cut_and_count=False)
            total = h if total is None else add_histograms(total, h)
            compute_s += time.perf_counter() - t1
            read_s += t1 - t0
            n += len(events)
            passing += len(p)
            failing += len(f)
    wall = time.perf_counter() - t_all
    return {
        "events": n,
        "passing_events": passing,
        "failing_events": failing,
        "wall_s": round(wall, 2),
        "read_s": round(read_s, 2),
        "compute_s": round(compute_s, 2),
        "events_per_s": round(n / wall),
        "compute_events_per_s": round(n / compute_s),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpus": sorted(os.sched_getaffinity(0)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE / "egamma-tnp" / "DYto2E.root")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        print(json.dumps(measure(args.measure, args.chunk)))
        return 0
    with tempfile.TemporaryDirectory(prefix="tnp-bench-") as tmp:
        path = Path(tmp) / "replicated.root"
        seconds = replicate(args.sample, path, args.events)
        print(
            f"replicated {args.sample.name} to {args.events} events in {seconds:.1f} s "
            f"({path.stat().st_size / 1e6:.0f} MB)"
        )
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", str(path), "--chunk", str(args.chunk)],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = (467 * args.events // 1000, 183 * args.events // 1000)
    print(f"events                 {result['events']}")
    print(
        f"passing / failing      {result['passing_events']} / {result['failing_events']} "
        f"(467 / 183 per 1000 events: {expected})"
    )
    print(f"wall (1 core)          {result['wall_s']} s  (read {result['read_s']} s, compute {result['compute_s']} s)")
    print(f"events/s               {result['events_per_s']}  (compute only: {result['compute_events_per_s']})")
    print(f"peak RSS               {result['peak_rss_mb']} MB  (chunk {args.chunk} events)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
