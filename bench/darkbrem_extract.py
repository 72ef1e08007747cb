"""Benchmark of the native dark-brem library extraction (prints figures; not a test).

    .venv/bin/python bench/darkbrem_extract.py [--events 20000] [--energies 8] [--workdir DIR]

Writes a synthetic v5-style library (MG5 number format, ~805 bytes per event, a ~20 kB header
per file, like the real 8 GeV tungsten library) and extracts it to .csv.gz and to .csv, reporting
MB/s of LHE read, events/s, the Python heap peak (tracemalloc) and the peak RSS of the process
that extracts (a fresh interpreter per run). A run on
a library a quarter of the size shows whether memory depends on the library size.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from include.darkbrem.extract import extract
from include.darkbrem.library import energy_grid

HEADER_PAD = "#" + " banner line of the MadGraph run card, kept for realistic header size " * 1 + "\n"


def write_library(folder: Path, energies: list[float], nevents: int, seed: int = 1) -> int:
    """Write one LHE file per energy; return the total bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    total = 0
    for energy in energies:
        path = folder / f"electron_tungsten_bench_run_1_tungsten_IncidentEnergy_{energy}_unweighted_events.lhe"
        parts = ['<LesHouchesEvents version="3.0">\n<header>\n', HEADER_PAD * 270]
        parts.append("<slha>\nBlock frblock\n    6 74.0 # Znuc \n</slha>\n</header>\n<init>\n")
        parts.append(f"11 9000002 {energy:.6e} 1.713000e+02 0 0 0 0 -4 1\n</init>\n")
        for _ in range(nevents):
            er = rng.uniform(0.01, energy * 0.9)
            ea = energy - er
            r = (rng.gauss(0, 3e-3), rng.gauss(0, 3e-3), er * 0.9999)
            a = (rng.gauss(0, 3e-3), rng.gauss(0, 3e-3), ea * 0.9999)
            n = (-(r[0] + a[0]), -(r[1] + a[1]), 6e-5)
            parts.append(
                "<event>\n 5      1 +6.1469300e+07 1.71340900e+02 7.81860800e-03 1.07770200e-01\n"
                f"       11 -1    0    0    0    0 +0.0000000000e+00 +0.0000000000e+00 {energy:+.10e} "
                f"{energy:.10e} 5.1100000000e-04 0.0000e+00 1.0000e+00\n"
                "  9000002 -1    0    0    0    0 -0.0000000000e+00 -0.0000000000e+00 +6.0662586066e-13 "
                "1.7130000000e+02 1.7130000000e+02 0.0000e+00 -1.0000e+00\n"
                f"       11  1    1    2    0    0 {r[0]:+.10e} {r[1]:+.10e} {r[2]:+.10e} {er:.10e} "
                "5.1100000000e-04 0.0000e+00 1.0000e+00\n"
                f"  9000002  1    1    2    0    0 {n[0]:+.10e} {n[1]:+.10e} {n[2]:+.10e} 1.7130000000e+02 "
                "1.7130000000e+02 0.0000e+00 -1.0000e+00\n"
                f"     1023  1    1    2    0    0 {a[0]:+.10e} {a[1]:+.10e} {a[2]:+.10e} {ea:.10e} "
                "1.0000000000e-02 0.0000e+00 1.0000e+00\n</event>\n"
            )
        parts.append("</LesHouchesEvents>\n")
        text = "".join(parts)
        path.write_text(text)
        total += len(text)
    return total


def measure(lib: Path, out: Path, expected: int, trace: bool) -> dict[str, float]:
    """Extract in a fresh interpreter so that its peak RSS is the extraction's own."""
    code = (
        "import json, resource, sys; from pathlib import Path; sys.path.insert(0, sys.argv[4]);"
        "import darkbrem_extract as b;"
        "m = b.measure_here(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[5] == '1');"
        "m['rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; print(json.dumps(m))"
    )
    bench_dir = str(Path(__file__).resolve().parent)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(lib), str(out), str(expected), bench_dir, "1" if trace else "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_here(lib: Path, out: Path, expected: int, trace: bool) -> dict[str, float]:
    """Time one extraction (untraced); with ``trace`` also a second, traced one for the heap peak."""
    t0 = time.perf_counter()
    summary = extract(lib, out, aprime_id=1023, expected_events=expected)
    seconds = time.perf_counter() - t0
    heap_peak = float("nan")
    if trace:  # tracemalloc slows allocation-heavy code several times: never in the timed run
        tracemalloc.start()
        extract(lib, out, aprime_id=1023, expected_events=expected)
        heap_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {
        "seconds": seconds,
        "rows": summary.rows,
        "mb_in": summary.bytes_read / 1e6,
        "mb_out": out.stat().st_size / 1e6,
        "heap_peak_mb": heap_peak / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="events per energy point")
    parser.add_argument("--energies", type=int, default=8)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    grid = energy_grid(8.0, 4.0)[: args.energies]
    work = Path(tempfile.mkdtemp(prefix="bench-darkbrem-", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        size = write_library(work / "full", grid, args.events)
        write_library(work / "quarter", grid, args.events // 4, seed=2)
        print(f"library: {len(grid)} energies x {args.events} events = {len(grid) * args.events} events, "
              f"{size / 1e6:.1f} MB of LHE (written in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
        runs = [
            ("full -> .csv.gz", work / "full", work / "full.csv.gz", len(grid) * args.events, True),
            ("full -> .csv", work / "full", work / "full.csv", len(grid) * args.events, False),
            ("quarter -> .csv.gz", work / "quarter", work / "quarter.csv.gz", len(grid) * (args.events // 4), True),
        ]
        columns = ("s", "MB/s LHE", "events/s", "out MB", "ratio", "heap MB", "RSS MB")
        widths = (7, 9, 10, 7, 6, 8, 7)
        print(f"{'run':<20} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
        for label, lib, out, expected, trace in runs:
            m = measure(lib, out, expected, trace)
            print(
                f"{label:<20} {m['seconds']:7.2f} {m['mb_in'] / m['seconds']:9.1f} {m['rows'] / m['seconds']:10.0f} "
                f"{m['mb_out']:7.2f} {m['mb_in'] / m['mb_out']:6.1f} {m['heap_peak_mb']:8.2f} {m['rss_mb']:7.0f}"
            )
        print("heap MB: Python heap peak during extraction (tracemalloc); RSS MB: peak RSS of the extracting process")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
