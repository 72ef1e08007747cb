"""Benchmark of the ECAL window algorithm: vectorized vs the per-event reference of the tests.

    .venv/bin/python bench/ecal_windows_bench.py [--events 1500] [--pileup 10] [--repeat 3]

Prints windows/s and events/s of both on the same generated dumper file, the speed-up, the
peak memory of the vectorized pass (tracemalloc, numpy included) and, separately, the cost of
writing the ndjson and of converting it to parquet. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "ecal_windows"))

from reference import reference_windows  # noqa: E402

from include.ecal_windows import ndjson, parquet  # noqa: E402
from include.ecal_windows.config import WindowConfig  # noqa: E402
from include.ecal_windows.dumper import needed_branches, read_events  # noqa: E402
from include.ecal_windows.generator import generate_events, write_dumper_file  # noqa: E402
from include.ecal_windows.schema import load_features  # noqa: E402
from include.ecal_windows.windows import compute_windows  # noqa: E402
from include.ecal_windows.workingpoint import RUN3_ET_EDGES, RUN3_ETA_EDGES, WorkingPoint, demo_values  # noqa: E402


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--pileup", type=float, default=10.0, help="mean pileup showers per event")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    wp = WorkingPoint(np.array(RUN3_ET_EDGES, float), np.array(RUN3_ETA_EDGES, float), demo_values())
    with tempfile.TemporaryDirectory() as tmp:
        path = write_dumper_file(Path(tmp) / "bench.root", generate_events(args.events, 2024, 11, args.pileup))
        events = read_events(path, needed_branches())
        as_lists = events.to_list()
        n_clusters = int(sum(len(e["pfCluster_rawEnergy"]) for e in as_lists))
        print(f"file: {args.events} events, {n_clusters} PF clusters ({n_clusters / args.events:.1f}/event)")
        for name, cfg in (
            ("default (non-overlap, maxnocalow 0)", WindowConfig()),
            ("overlap, maxnocalow 4", WindowConfig(overlap=True, maxnocalow=4)),
        ):
            t_vec, result = best_of(lambda cfg=cfg: compute_windows(events, cfg, wp), args.repeat)
            t_ref, (ref, _) = best_of(lambda cfg=cfg: reference_windows(as_lists, cfg, wp), 1)
            assert len(ref) == result.n_windows
            tracemalloc.start()
            compute_windows(events, cfg, wp)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            n = result.n_windows
            print(f"\n[{name}] {n} windows")
            for label, seconds in (("vectorized", t_vec), ("reference ", t_ref)):
                rate = f"{n / seconds:10.0f} windows/s  {args.events / seconds:9.0f} events/s"
                print(f"  {label} : {seconds * 1e3:8.1f} ms  {rate}")
            print(f"  speed-up   : {t_ref / t_vec:8.1f} x")
            print(f"  peak memory of the vectorized pass: {peak / 2**20:.1f} MiB (tracemalloc)")
            t_json, text = best_of(lambda r=result: ndjson.to_lines(r.records), 1)
            src = ndjson.write_ndjson(Path(tmp) / "w.ndjson.gz", [text])
            t_pq, _ = best_of(lambda s=src: parquet.convert([s], Path(tmp) / "r.parquet", load_features(), 11), 1)
            print(f"  ndjson text: {t_json * 1e3:8.1f} ms ({len(text) / 2**20:.1f} MiB, {n / t_json:.0f} windows/s)")
            gz_mib = src.stat().st_size / 2**20
            print(f"  to parquet : {t_pq * 1e3:8.1f} ms ({n / t_pq:.0f} windows/s, gzip {gz_mib:.1f} MiB)")
    print(f"\nprocess max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
