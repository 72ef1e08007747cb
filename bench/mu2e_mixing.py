"""Benchmark: native Mu2e ensemble mixing throughput (events/s) and memory on a ~10 M-event input set.

    python bench/mu2e_mixing.py [--events 10e6] [--files 16] [--fraction 0.7] [--workdir DIR] [--keep]

Generates the demo datasets scaled to about ``--events`` input entries (``include.mu2e.demo``),
runs stage 1 and the job plan (ledger reservations in SQLite), then every job as its own process
(``python -m include.mu2e job J``) one after the other, and prints: generation time and size,
stage-1 and plan times, per-job wall time, mixing time inside the job, events mixed, events/s and
peak RSS of the job processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMO_ENTRIES_PER_REFERENCE = 26_300  # entries of the default processes per 10800 s reference (demo set)


def _du(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=10e6, help="target number of input entries")
    parser.add_argument("--files", type=int, default=16, help="files per dataset (= jobs)")
    parser.add_argument("--fraction", type=float, default=0.7, help="ensemble livetime / reference livetime")
    parser.add_argument("--format", default="parquet", choices=["parquet", "root"])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    from include.mu2e.demo import REFERENCE_LIVETIME_S, generate

    work = args.workdir or Path(tempfile.mkdtemp(prefix="mu2e-bench-", dir="/var/tmp"))
    data, output = work / "data", work / "output"
    env = {**os.environ, "HEP_DATA_ROOT": str(data), "HEP_OUTPUT_ROOT": str(output)}
    os.environ.update(HEP_DATA_ROOT=str(data), HEP_OUTPUT_ROOT=str(output))
    reference = REFERENCE_LIVETIME_S * args.events / DEMO_ENTRIES_PER_REFERENCE
    try:
        t0 = time.perf_counter()
        if not (data / "mu2e").exists():
            generate(data / "mu2e", 2017, files=args.files, reference_livetime_s=reference)
        t_gen = time.perf_counter() - t0
        rss_gen = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        from include.mu2e import pipeline

        livetime = f"{reference * args.fraction:.0f} s"
        conf = pipeline.validate_params(
            {"tag": "MDS9z", "livetime": livetime, "njobs": args.files, "output_format": args.format}
        )
        t0 = time.perf_counter()
        pipeline.run_campaign_step(conf, "normalize")
        pipeline.run_campaign_step(conf, "campaign")
        t_stage1 = time.perf_counter() - t0
        record = json.loads((Path(conf["output_dir"]) / "MDS9z.json").read_text())
        inputs = sum(p["reco"] for p in record["processes"].values())
        t0 = time.perf_counter()
        pipeline.run_campaign_step(conf, "jobs")
        t_plan = time.perf_counter() - t0

        walls, inner, events = [], [], 0
        for j in range(args.files):
            argv = [sys.executable, "-m", "include.mu2e", "job", str(j), "--tag", "MDS9z", "--livetime", livetime]
            argv += ["--njobs", str(args.files), "--output-format", args.format]
            t0 = time.perf_counter()
            proc = subprocess.run(argv, env=env, capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            report = json.loads(proc.stdout)
            inner.append(report["steps"][0]["seconds"])
            events += sum(report["counts"].values())
        rss_jobs = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        t0 = time.perf_counter()
        pipeline.run_campaign_step(conf, "validate", "validate")
        t_validate = time.perf_counter() - t0

        print(
            f"input set          : {inputs:,} entries in {len(record['processes'])} datasets x {args.files} files, "
            f"{_du(data):.0f} MB ({args.format} output)"
        )
        print(f"generation         : {t_gen:.1f} s, peak RSS {rss_gen:.0f} MB")
        print(f"stage 1 (campaign) : {t_stage1:.2f} s   plan + ledger reservations: {t_plan:.2f} s")
        print(
            f"ensemble           : livetime {livetime}, {events:,} events mixed in {args.files} jobs, "
            f"output {_du(output):.0f} MB"
        )
        print(
            f"job wall time      : total {sum(walls):.1f} s, mean {sum(walls) / len(walls):.2f} s, "
            f"max {max(walls):.2f} s (incl. interpreter start)"
        )
        print(
            f"mixing time in jobs: total {sum(inner):.1f} s -> {events / sum(inner):,.0f} events/s "
            f"({events / sum(walls):,.0f} events/s wall)"
        )
        print(f"peak RSS per job   : {rss_jobs:.0f} MB (max over job processes)")
        print(f"validation         : {t_validate:.1f} s (reads every output, checks uniqueness)")
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
