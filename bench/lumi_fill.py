"""Benchmark: generate one full-size demo fill (2556 bunches) and process it; print the timings.

.venv/bin/python bench/lumi_fill.py [--bunches 2556] [--plots]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bunches", type=int, default=2556)
    parser.add_argument("--plots", action="store_true", help="also draw the plots (300 dpi)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lumi-bench-") as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        os.environ["HEP_DATA_ROOT"], os.environ["HEP_OUTPUT_ROOT"] = str(data), str(out)
        from include.lumi.demo import DemoOptions, generate
        from include.lumi.tasks import process_fill

        t0 = time.perf_counter()
        files = generate(data / "lumi", 2017, fills=(6140,), options=DemoOptions(n_bunches=args.bunches))
        t_gen = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in files) / 1e6
        config = {"year": 2017, "doSBModel": True}
        if not args.plots:
            config |= {"doSBPlots": False, "doCyclePlots": False}
        t0 = time.perf_counter()
        report = process_fill(6140, config=config)
        t_proc = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = process_fill(6140, config=config)
        t_fresh = time.perf_counter() - t0
    print(f"bunches per beam        {args.bunches}")
    print(f"generation              {t_gen:6.1f} s  ({len(files)} files, {size:.0f} MB)")
    print(f"processing (all steps)  {t_proc:6.1f} s  ok={report['ok']}")
    for step in report["steps"]:
        print(f"  {step['step']:<12} {step['state']:<8} {step['seconds']:6.2f} s")
    print(f"re-run (all fresh)      {t_fresh:6.1f} s  ran={again['ran']}")


if __name__ == "__main__":
    main()
