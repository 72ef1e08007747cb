"""Benchmark: one lumi_followup run of N small fills on HTCondor, all deferred at once, on the
production deployment (scripts/deploy.sh: Celery on PostgreSQL and Redis, a separate triggerer).

    source <pool>/env.sh; .venv/bin/python bench/deployment_load.py [--fills 200] [--window 120]
        [--complete | --no-complete] [--json FILE]

1. N fills (12 bunches, sparse logging: about 10 MB each) from the demo generator in a fresh data
   root; the deployment is started on it with Airflow's StatsD metrics sent to this process.
2. The pool's execute daemon is switched off, so every fill's first steps (sb and cycle) submit
   their job and wait deferred. Once all 2N are deferred, during ``--window`` seconds: the schedd
   round trips per minute (the metric ``hep.condor.schedd.*`` that every HTCondorHook counts), the
   triggerer's CPU (its whole session), the scheduler's loop duration
   (``scheduler.scheduler_loop_duration``) and the PostgreSQL connections of the deployment.
3. ``--complete``: the execute daemon on again; the wall time from the trigger to the run's end,
   then the same run again, which must submit nothing. ``--no-complete``: the run is failed and its
   jobs removed.
Needs PostgreSQL at 127.0.0.1:5432, Redis at 6379 and the project's HTCondor pool. Figures, not
pass/fail (except the second run: a submission there is an error).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "deployment")]

import harness  # noqa: E402

DAG = "lumi_followup"
FIRST_FILL = 6200
OVERRIDES = {"plotDpi": 20, "doSBPlots": False, "doCyclePlots": False, "doCycleModelPlots": False}


class StatsdSink:
    """A StatsD server on a free UDP port: counters summed and timers kept, per metric name."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.counters: dict[str, float] = defaultdict(float)
        self.timers: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            data = self.sock.recv(65535).decode(errors="replace")
            for line in data.splitlines():
                name, _, rest = line.partition(":")
                value, _, kind = rest.partition("|")
                kind = kind.split("|")[0]
                try:
                    number = float(value)
                except ValueError:
                    continue
                with self.lock:
                    if kind == "c":
                        self.counters[name] += number
                    elif kind == "ms":
                        self.timers[name].append(number)

    def snapshot(self) -> tuple[dict[str, float], dict[str, int]]:
        with self.lock:
            return dict(self.counters), {k: len(v) for k, v in self.timers.items()}

    def timer_values(self, suffix: str, since: dict[str, int]) -> list[float]:
        with self.lock:
            return [v for k, vs in self.timers.items() if k.endswith(suffix) for v in vs[since.get(k, 0) :]]


def schedd_round_trips(counters: dict[str, float]) -> float:
    return sum(v for k, v in counters.items() if ".hep.condor.schedd." in f".{k}")


def deferred(deployment: harness.Deployment, run_id: str) -> int:
    path = f"/api/v2/dags/{DAG}/dagRuns/{quote(run_id, safe='')}/taskInstances?state=deferred&limit=1"
    return int(deployment.get(path)["total_entries"])


def cpu_seconds(deployment: harness.Deployment, component: str) -> float:
    import psutil

    total = 0.0
    for pid, _sid, _cmd in deployment.processes(component):
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def pg_connections(deployment: harness.Deployment, conn: Any) -> int:
    """Connections to the deployment's two databases, this bench's own left out."""
    import sqlalchemy as sa

    query = "select count(*) from pg_stat_activity where datname in (:a, :b) and pid <> pg_backend_pid()"
    try:
        return int(conn.execute(sa.text(query), {"a": deployment.name, "b": f"{deployment.name}_filldb"}).scalar())
    finally:
        conn.rollback()  # pg_stat_activity is read once per transaction: a new one for every look


def clusters_of(run_id: str, tasks: list[dict[str, Any]]) -> int:
    """Clusters in the schedd's queue and history submitted for the task instances of a run."""
    from include.condor.hook import HTCondorHook
    from include.condor.submit import batch_name

    names = [batch_name(DAG, t["task_id"], run_id, t["map_index"], try_number=t["try_number"]) for t in tasks]
    hook = HTCondorHook(None, backoff=(1.0, 2.0))
    found = 0
    for start in range(0, len(names), 200):
        found += len(hook.find_batch(names[start : start + 200], history=True))
    return found


def unpause_without_catchup(deployment: harness.Deployment) -> None:
    """Unpause the DAG; the daily run that unpausing schedules (every new fill, locally) is failed
    at once: only the bench's run counts."""
    status, body = deployment.request("PATCH", f"/api/v2/dags/{DAG}", {"is_paused": False})
    assert status == 200, body

    def scheduled() -> list[dict[str, Any]]:
        return [r for r in deployment.runs(DAG) if r["run_type"] == "scheduled"]

    for run in deployment.wait_until("the scheduled run", scheduled, 300, 2.0):
        path = f"/api/v2/dags/{DAG}/dagRuns/{quote(run['dag_run_id'], safe='')}"
        deployment.request("PATCH", path, {"state": "failed"})


def remove_jobs(run_id: str) -> int:
    """Remove the run's jobs still in the schedd's queue (before the execute daemon is on again)."""
    from include.condor.hook import HTCondorHook
    from include.condor.submit import name_part

    safe_run = name_part(run_id)
    hook = HTCondorHook(None, backoff=(1.0, 2.0))
    ads = hook.get_schedd().query("true", ["ClusterId", "ProcId", "JobBatchName"])
    ids = [f"{ad['ClusterId']}.{ad['ProcId']}" for ad in ads if safe_run in str(ad.get("JobBatchName", ""))]
    if ids:
        hook.remove(ids, reason="load bench: run ended")
    return len(ids)


def all_task_instances(deployment: harness.Deployment, run_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        path = f"/api/v2/dags/{DAG}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=500&offset={len(out)}"
        page = deployment.get(path)
        out += page["task_instances"]
        if len(out) >= page["total_entries"] or not page["task_instances"]:
            return out


def measure_window(deployment: harness.Deployment, sink: StatsdSink, window: float) -> dict[str, Any]:
    import sqlalchemy as sa

    counters0, timers0 = sink.snapshot()
    trips0 = schedd_round_trips(counters0)
    cpu0, t0 = cpu_seconds(deployment, "triggerer"), time.monotonic()
    connections = []
    engine = sa.create_engine(deployment.setting("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"))
    with engine.connect() as conn:
        while time.monotonic() - t0 < window:
            connections.append(pg_connections(deployment, conn))
            time.sleep(5)
    engine.dispose()
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(deployment, "triggerer") - cpu0
    counters1, _ = sink.snapshot()
    loops = sink.timer_values("scheduler.scheduler_loop_duration", timers0)
    return {
        "window_s": round(elapsed, 1),
        "schedd_round_trips_per_min": round(60 * (schedd_round_trips(counters1) - trips0) / elapsed, 1),
        "triggerer_cpu_percent": round(100 * cpu / elapsed, 1),
        "scheduler_loop_ms_median": round(statistics.median(loops), 1) if loops else None,
        "scheduler_loop_ms_max": round(max(loops), 1) if loops else None,
        "scheduler_loops": len(loops),
        "pg_connections_max": max(connections),
        "pg_connections_median": statistics.median(connections),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fills", type=int, default=200)
    parser.add_argument("--window", type=float, default=120.0, help="seconds measured while every fill waits")
    parser.add_argument("--complete", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="leave the deployment and its folder in place")
    parser.add_argument("--home", type=Path, help="folder of the run (its generated fills are reused)")
    parser.add_argument("--generate-only", action="store_true", help="write the fills into --home and stop")
    args = parser.parse_args()
    if not args.generate_only:
        for what, (host, port) in (("PostgreSQL", ("127.0.0.1", 5432)), ("Redis", ("127.0.0.1", 6379))):
            if why := harness.reachable(host, port):
                sys.exit(f"the deployment needs {what}: nothing answers at {why}")
        if "CONDOR_CONFIG" not in os.environ:
            sys.exit("CONDOR_CONFIG is not set: source the pool's env.sh (docker/condor/start-pool.sh)")

    from include.lumi.demo import DemoOptions, generate

    home = args.home or Path(tempfile.mkdtemp(prefix="hep-load-"))
    fills = list(range(FIRST_FILL, FIRST_FILL + args.fills))
    stamp = home / "data" / f"lumi-{args.fills}-fills.done"
    generated = [int(p.name.split("-")[1]) for p in (home / "data").glob("lumi-*-fills.done")]
    if not any(n >= args.fills for n in generated):  # the first N of more fills serve as well
        shutil.rmtree(home / "data", ignore_errors=True)
        t = time.monotonic()
        options = DemoOptions(
            n_bunches=12, bsrt_period=120.0, bsrt_period_cycle=5.0, fbct_period=300.0, basic_period=60.0
        )
        generate(home / "data" / "lumi", 7, fills=tuple(fills), options=options)
        stamp.touch()
        print(f"[load] {len(fills)} fills generated in {time.monotonic() - t:.0f} s under {home / 'data'}", flush=True)
    if args.generate_only:
        return 0
    shutil.rmtree(home / "output", ignore_errors=True)

    sink = StatsdSink()
    extra = {
        "DEPLOY_DEMO": "0",
        "CONDOR_CONFIG": os.environ["CONDOR_CONFIG"],
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(sink.port),
    }
    deployment = harness.start(home, extra)
    results: dict[str, Any] = {"fills": len(fills), "units_deferred_expected": 2 * len(fills)}
    try:
        harness.pool_startd(on=False)
        try:
            conf = {"fills": fills, "backend": "condor", "config_overrides": OVERRIDES}
            unpause_without_catchup(deployment)
            started = time.monotonic()
            (run_id,) = deployment.trigger_all({DAG: conf}).values()
            most = deployment.wait_until(
                f"{2 * len(fills)} tasks deferred",
                lambda: (n := deferred(deployment, run_id)) >= 2 * len(fills) and n,
                3600,
                5.0,
            )
            results["seconds_to_all_deferred"] = round(time.monotonic() - started, 1)
            results["deferred"] = most
            print(f"[load] {most} tasks deferred after {results['seconds_to_all_deferred']} s", flush=True)
            results["while_deferred"] = measure_window(deployment, sink, args.window)
            print(f"[load] while deferred: {results['while_deferred']}", flush=True)
            if not args.complete:
                deployment.request("PATCH", f"/api/v2/dags/{DAG}/dagRuns/{quote(run_id, safe='')}", {"state": "failed"})
                results["jobs_removed"] = remove_jobs(run_id)
        finally:
            harness.pool_startd(on=True)
        if args.complete:
            final = deployment.wait_for({DAG: run_id}, 4 * 3600, interval=10.0)
            results["run_state"] = final[DAG]["state"]
            results["wall_s"] = round(time.monotonic() - started, 1)
            tasks = all_task_instances(deployment, run_id)
            results["task_instances"] = len(tasks)
            results["clusters"] = clusters_of(run_id, tasks)
            print(
                f"[load] run {results['run_state']} in {results['wall_s']} s, {results['clusters']} clusters",
                flush=True,
            )
            again = deployment.trigger_all({DAG: conf})[DAG]
            t = time.monotonic()
            results["second_run_state"] = deployment.wait_for({DAG: again}, 3600, interval=5.0)[DAG]["state"]
            results["second_run_s"] = round(time.monotonic() - t, 1)
            results["second_run_clusters"] = clusters_of(again, all_task_instances(deployment, again))
            print(f"[load] second run: {results['second_run_state']}, {results['second_run_clusters']} clusters")
    finally:
        if not args.keep:
            deployment.destroy()
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if not args.complete or (results["second_run_clusters"] == 0 and results["run_state"] == "success") else 1


if __name__ == "__main__":
    sys.exit(main())
