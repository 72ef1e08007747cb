"""Benchmark: time to submit one 1,000-proc cluster (one transaction) to the personal pool.

    CONDOR_CONFIG=... python bench/condor_submit.py [--procs 1000] [--repeat 3]

Procs are submitted on hold (so the bench measures submission, not running) and removed after.
Two forms: ``count=N`` (same argv) and itemdata (one argv per proc, the operator's form).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from include.condor.hook import HTCondorHook
from include.condor.submit import JobSpec, build_submit, cluster_template, items_for_argvs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--procs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    hook = HTCondorHook(None)
    print(f"schedd {hook.schedd_name}; {args.procs} procs per cluster; {args.repeat} repeats")
    with tempfile.TemporaryDirectory(prefix="hep-bench-submit-", dir="/tmp", ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp)
        (workdir / "out").mkdir()
        spec = JobSpec(executable="/bin/true", shared_fs=True, request_memory_mb=16, extra={"hold": "True"})
        for form in ("count", "itemdata"):
            times = []
            for r in range(args.repeat):
                desc = build_submit(spec, workdir=workdir, batch=f"bench-submit-{form}-{r}")
                t0 = time.perf_counter()
                if form == "count":
                    sub = hook.submit(desc, count=args.procs)
                else:
                    items = items_for_argvs([["unit", str(i), "; rm -rf /"] for i in range(args.procs)])
                    sub = hook.submit(cluster_template(desc), itemdata=items)
                times.append(time.perf_counter() - t0)
                assert sub.num_procs == args.procs, sub
                hook.act("Remove", [str(sub.cluster)], "benchmark done")
            best, median = min(times), statistics.median(times)
            print(
                f"{form:9s}: median {median:.3f} s, best {best:.3f} s for {args.procs} procs "
                f"({args.procs / median:,.0f} procs/s)"
            )


if __name__ == "__main__":
    main()
