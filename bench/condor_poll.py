"""Benchmark: schedd queries per minute and CPU while N triggers poll running (sleeping) jobs.

    CONDOR_CONFIG=... python bench/condor_poll.py [--triggers 200] [--interval 5] [--duration 60]

Submits N one-proc clusters of ``sleep`` (each with its own event log), runs N
``HTCondorJobTrigger`` coroutines in one asyncio loop for ``--duration`` seconds, then removes
the jobs. Run once with the event log (default) and once with ``--no-event-log`` (schedd only).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from include.condor.hook import HTCondorHook
from include.condor.submit import JobSpec, build_submit
from include.condor.triggers import HTCondorJobTrigger

HOOKS: list[HTCondorHook] = []


class CountingTrigger(HTCondorJobTrigger):
    """Keeps its hook so the bench can count schedd round trips."""

    def _hook(self) -> HTCondorHook:
        hook = super()._hook()
        HOOKS.append(hook)
        return hook


async def run_triggers(triggers: list[HTCondorJobTrigger], duration: float) -> tuple[int, int]:
    async def one(trigger: HTCondorJobTrigger) -> Any:
        async for event in trigger.run():
            return event
        return None

    tasks = [asyncio.create_task(one(t)) for t in triggers]
    await asyncio.sleep(duration)
    finished = sum(t.done() for t in tasks)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return finished, len(tasks)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--triggers", type=int, default=200)
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval of each trigger (s)")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--schedd-every", type=int, default=6, help="schedd check every N polls")
    parser.add_argument("--no-event-log", action="store_true", help="poll the schedd only")
    args = parser.parse_args()
    hook = HTCondorHook(None)
    with tempfile.TemporaryDirectory(prefix="hep-bench-poll-", dir="/tmp", ignore_cleanup_errors=True) as tmp:
        subs = []
        for i in range(args.triggers):
            workdir = Path(tmp) / f"j{i}"
            (workdir / "out").mkdir(parents=True)
            spec = JobSpec(executable="/bin/sleep", arguments=["600"], shared_fs=True, request_memory_mb=1)
            subs.append((hook.submit(build_submit(spec, workdir=workdir, batch=f"bench-poll-{i}")), workdir))
        try:
            time.sleep(3)  # let some start
            triggers = [
                CountingTrigger(
                    job_ids=sub.job_ids,
                    event_log=None if args.no_event_log else str(workdir / "events.log"),
                    poll_interval=args.interval,
                    schedd_every=args.schedd_every,
                )
                for sub, workdir in subs
            ]
            cpu0, t0 = cpu(), time.perf_counter()
            finished, total = asyncio.run(run_triggers(triggers, args.duration))
            wall, used = time.perf_counter() - t0, cpu() - cpu0
        finally:
            hook.act("Remove", [str(sub.cluster) for sub, _ in subs], "benchmark done")
    queries = sum(h.queries for h in HOOKS)
    polls = total * args.duration / args.interval
    mode = "schedd only" if args.no_event_log else f"event log + schedd every {args.schedd_every} polls"
    print(f"{total} triggers, poll every {args.interval:g} s, {wall:.0f} s, mode: {mode}")
    print(f"  schedd queries/min: {queries * 60 / wall:,.0f}  (total {queries}; ~{polls:,.0f} polls)")
    print(f"  trigger CPU: {used:.2f} s in {wall:.0f} s = {100 * used / wall:.1f}% of one core")
    print(f"  triggers that fired (should be 0 for sleeping jobs): {finished}")


if __name__ == "__main__":
    main()
