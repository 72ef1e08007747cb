"""Benchmark: reading dumper files as a ROOT TTree (what the CMS dumper writes) vs as an RNTuple.

    .venv/bin/python bench/ecal_tree_read.py [--events 6000] [--pileup 10] [--repeat 5]

The same generated events are written once as each format (the TTree with ROOT, see
include/ecal_windows/ttree_writer.py), then read with the production's own reader
(include/ecal_windows/dumper.py: the branches the windows need, in its chunks), the two formats
interleaved, ``--repeat`` times each, fresh file handle every time. Prints the median events/s and
MB/s (file bytes) of each and their ratio. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from include.ecal_windows.dumper import iterate_events, needed_branches  # noqa: E402
from include.ecal_windows.generator import generate_events, write_dumper_file  # noqa: E402
from include.ecal_windows.pipeline import CHUNK_EVENTS  # noqa: E402
from include.ecal_windows.ttree_writer import root_available  # noqa: E402


def read_all(path: Path, branches: list[str]) -> int:
    return sum(len(chunk) for chunk in iterate_events(path, branches, CHUNK_EVENTS))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--pileup", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not root_available():
        print("ecal_tree_read: skipped, ROOT is not installed (pip install -r requirements-test.txt)")
        return 0
    branches = needed_branches()
    with tempfile.TemporaryDirectory() as tmp:
        events = generate_events(args.events, 2026, 11, args.pileup)
        files = {fmt: write_dumper_file(Path(tmp) / f"{fmt}.root", events, fmt) for fmt in ("ttree", "rntuple")}
        times: dict[str, list[float]] = {fmt: [] for fmt in files}
        read_all(files["ttree"], branches)  # warm the page cache and uproot's imports
        for _ in range(args.repeat):
            for fmt, path in files.items():
                t0 = time.perf_counter()
                assert read_all(path, branches) == args.events
                times[fmt].append(time.perf_counter() - t0)
        print(f"ECAL dumper reading: {args.events} events, {len(branches)} branches, chunks of {CHUNK_EVENTS}")
        print(f"{'format':8} {'file MB':>8} {'median s':>9} {'events/s':>10} {'MB/s':>7}")
        rate = {}
        for fmt, path in files.items():
            size = path.stat().st_size / 1e6
            median = statistics.median(times[fmt])
            rate[fmt] = args.events / median
            print(f"{fmt:8} {size:8.1f} {median:9.3f} {rate[fmt]:10.0f} {size / median:7.1f}")
        print(f"TTree / RNTuple events/s: {rate['ttree'] / rate['rntuple']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
