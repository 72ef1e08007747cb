"""The deployment under faults: SIGKILL a Celery worker, the scheduler or the triggerer mid-run.

Each fault strikes at a moment read from the REST API (a given task running, N tasks deferred);
the killed component's whole session dies (its task processes too, as when a host goes down) and
is started again. Then the run must succeed with the products of an undisturbed run, byte for
byte, with no temporary or partial file left and, on HTCondor, no job submitted twice.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import pytest
from airflow_rest import FINISHED
from harness import Deployment, pool_startd
from lumi_support import massi_archive, republish

pytestmark = [pytest.mark.deployment, pytest.mark.slow]

FILL = 6140
RUNS_TIMEOUT_S = 1800.0
EGAMMA_CHUNK = 500  # entries per chunk: the demo's files give more than 8 chunks
# Every run of a fault test redoes these units in the same folders; its products must equal the
# undisturbed run's.
LUMI = {"fills": [FILL], "force": "all"}
EGAMMA = {"output": "faults", "chunk_size": EGAMMA_CHUNK, "force": "all"}


def lumi_dir(deployment: Deployment) -> Path:
    return deployment.output_root / "lumi_followup" / f"fill_{FILL}"


def egamma_dir(deployment: Deployment) -> Path:
    return deployment.output_root / "egamma_tnp" / "faults"


# What a run records about itself rather than computes: provenance manifests, step reports and
# egamma's per-chunk call records (they hold the times of their run), lock files, and the dated
# copies lumi keeps of the products a forced run replaced (<name>_YYYYMMDD[_HHMMSS].<ext>, the
# legacy backup naming). The histograms, tables, parquet files and plots are compared byte for byte.
RUN_RECORDS = re.compile(r"(manifest\.json|report\.json|^chunk\.json)$|^\.|_\d{8}(_\d{6})?\.\w+$")


def products(folder: Path) -> dict[str, str]:
    """sha256 of every product below ``folder`` (run records left out): the same bytes or not."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not RUN_RECORDS.search(p.name)
    }


def run_to_success(deployment: Deployment, confs: dict[str, dict[str, Any]]) -> dict[str, str]:
    runs = deployment.trigger_all(confs)
    final = deployment.wait_for(runs, RUNS_TIMEOUT_S)
    assert {d: r["state"] for d, r in final.items()} == dict.fromkeys(runs, "success"), {
        d: [(t["task_id"], t["map_index"], t["state"]) for t in deployment.task_instances(d, r)]
        for d, r in runs.items()
    }
    return runs


def running(deployment: Deployment, dag_id: str, run_id: str, prefix: str) -> list[dict[str, Any]]:
    return [
        ti
        for ti in deployment.task_instances(dag_id, run_id)
        if ti["task_id"].startswith(prefix) and ti["state"] == "running"
    ]


@pytest.fixture(scope="module")
def undisturbed(deployment: Deployment) -> dict[str, dict[str, str]]:
    """Products of undisturbed runs: lumi fill 6140 (every step) and egamma_tnp's demo."""
    run_to_success(deployment, {"lumi_followup": LUMI, "egamma_tnp": EGAMMA})
    return {"lumi": products(lumi_dir(deployment)), "egamma": products(egamma_dir(deployment))}


def test_a_killed_worker_s_tasks_are_retried_on_the_other(deployment: Deployment, undisturbed: dict) -> None:
    assert len(undisturbed["lumi"]) > 10 and len(undisturbed["egamma"]) > 3
    deployment.kill("worker-2")  # everything starts on worker-1, the one that will die
    status, lumi = deployment.trigger("lumi_followup", LUMI)
    assert status == 200, lumi
    lumi_run = lumi["dag_run_id"]
    deployment.wait_until("a lumi step running", lambda: running(deployment, "lumi_followup", lumi_run, "fill."), 600)
    status, egamma = deployment.trigger("egamma_tnp", EGAMMA)
    assert status == 200, egamma
    egamma_run = egamma["dag_run_id"]

    def both_running() -> tuple[list, list] | None:
        steps = running(deployment, "lumi_followup", lumi_run, "fill.")
        chunks = running(deployment, "egamma_tnp", egamma_run, "process_chunk")
        return (steps, chunks) if steps and chunks else None

    steps, chunks = deployment.wait_until("a lumi step and an egamma chunk running together", both_running, 600, 0.3)
    deployment.restart("worker-2")
    killed = deployment.kill("worker-1")
    struck = {("lumi_followup", t["task_id"], t["map_index"]) for t in steps} | {
        ("egamma_tnp", t["task_id"], t["map_index"]) for t in chunks
    }
    print(f"[faults] SIGKILL worker-1 ({killed} processes) while running: {sorted(struck)}")

    final = deployment.wait_for({"lumi_followup": lumi_run, "egamma_tnp": egamma_run}, RUNS_TIMEOUT_S)
    assert {d: r["state"] for d, r in final.items()} == {"lumi_followup": "success", "egamma_tnp": "success"}
    tries = {}
    for dag_id, run_id in (("lumi_followup", lumi_run), ("egamma_tnp", egamma_run)):
        for ti in deployment.task_instances(dag_id, run_id):
            if (dag_id, ti["task_id"], ti["map_index"]) in struck:
                tries[(dag_id, ti["task_id"], ti["map_index"])] = (ti["state"], ti["try_number"])
    assert tries and all(state == "success" and n >= 2 for state, n in tries.values()), tries  # retried
    assert not deployment.processes("worker-1")  # so every retry ran on worker-2
    assert products(lumi_dir(deployment)) == undisturbed["lumi"]
    assert products(egamma_dir(deployment)) == undisturbed["egamma"]
    assert deployment.leftovers() == []
    deployment.restart("worker-1")


def test_a_killed_scheduler_restarted_completes_the_run(deployment: Deployment, undisturbed: dict) -> None:
    status, egamma = deployment.trigger("egamma_tnp", EGAMMA)
    assert status == 200, egamma
    run_id = egamma["dag_run_id"]

    def mid_run() -> bool:
        states = [ti["state"] for ti in deployment.task_instances("egamma_tnp", run_id)]
        return "success" in states and any(s in ("running", "queued", "scheduled", None) for s in states)

    deployment.wait_until("egamma_tnp half-way", mid_run, 600, 0.5)
    deployment.kill("scheduler")
    time.sleep(5)
    deployment.restart("scheduler")
    final = deployment.wait_for({"egamma_tnp": run_id}, RUNS_TIMEOUT_S)
    assert final["egamma_tnp"]["state"] == "success"
    assert products(egamma_dir(deployment)) == undisturbed["egamma"]
    assert deployment.leftovers() == []


def _clusters_by_task(deployment: Deployment, runs: dict[str, str]) -> dict[str, set[int]]:
    """Clusters in the schedd's queue and history per task instance of these runs, any try."""
    import htcondor2 as htcondor

    from include.condor.submit import batch_name

    names = {
        batch_name(dag_id, ti["task_id"], run_id, ti["map_index"])
        for dag_id, run_id in runs.items()
        for ti in deployment.task_instances(dag_id, run_id)
    }
    schedd = htcondor.Schedd()
    projection = ["ClusterId", "JobBatchName"]
    ads = list(schedd.query("true", projection)) + list(schedd.history("true", projection, match=-1))
    found: dict[str, set[int]] = {}
    for ad in ads:
        name = str(ad.get("JobBatchName", "")).rsplit(".t", 1)[0]  # the task instance, whatever its try
        if name in names:
            found.setdefault(name, set()).add(int(ad["ClusterId"]))
    return found


def _index(folder: Path) -> list[str]:
    """The files egamma's efficiencies.json lists, relative to its folder."""
    import json

    return sorted(
        str(Path(f).relative_to(folder)) for f in json.loads((folder / "efficiencies.json").read_text())["files"]
    )


# Every production's condor variant, with products of its own (or forced) so that every unit submits
# a job: 2 x 2 first lumi steps + 8 + 8 + 4 + ldmx's units at once (8 per mapped task and run).
CONDOR_CONFS: dict[str, dict[str, Any]] = {
    "lumi_followup": {"backend": "condor", "force": "all", "fills": [FILL, 6141]},
    "egamma_tnp": {"backend": "condor", "output": "triggerer_killed", "chunk_size": EGAMMA_CHUNK},
    "mu2e_ensemble": {"backend": "condor", "force": "all", "njobs": 8},
    "ecal_windows_dataset": {"backend": "condor", "output_dir": "triggerer_killed", "files_per_group": 1},
    "ldmx_darkbrem_signal": {"backend": "condor", "force": "all"},
}


def test_condor_variants_wait_deferred_through_a_killed_triggerer_and_submit_once(
    deployment: Deployment, pool: str, undisturbed: dict
) -> None:
    """Every condor variant defers its units to the triggerer; with the pool's execute daemon off the
    jobs stay idle, so 20+ tasks wait deferred at once when the triggerer is SIGKILLed and restarted.
    Then every run succeeds with exactly one cluster per task instance in the schedd's queue and
    history; the products made in HTCondor jobs equal the undisturbed local run's, byte for byte; and
    a second lumi run over the same fills (fresh now) submits nothing."""
    started = time.monotonic()
    deferred: dict[str, set[tuple[str, int]]] = {dag_id: set() for dag_id in CONDOR_CONFS}
    runs: dict[str, str] = {}

    def deferred_now() -> int:
        n = 0
        for dag_id, run_id in runs.items():
            for ti in deployment.task_instances(dag_id, run_id):
                if ti["state"] == "deferred":
                    deferred[dag_id].add((ti["task_id"], ti["map_index"]))
                    n += 1
        return n

    pool_startd(on=False)
    try:
        runs.update(deployment.trigger_all(CONDOR_CONFS))
        # 20 at once, and every production among them
        n_deferred = deployment.wait_until(
            "20 tasks deferred on HTCondor jobs, of every production",
            lambda: (n := deferred_now()) >= 20 and all(deferred.values()) and n,
            900,
            2.0,
        )
        killed = deployment.kill("triggerer")
        print(f"[faults] SIGKILL triggerer ({killed} processes) with {n_deferred} tasks deferred")
        time.sleep(5)
        deployment.restart("triggerer")
    finally:
        pool_startd(on=True)
    final = deployment.wait_for(runs, RUNS_TIMEOUT_S, on_poll=deferred_now, interval=2.0)
    took = time.monotonic() - started
    assert {d: r["state"] for d, r in final.items()} == dict.fromkeys(runs, "success"), {
        d: [(t["task_id"], t["map_index"], t["state"]) for t in deployment.task_instances(d, r)]
        for d, r in runs.items()
    }
    clusters = _clusters_by_task(deployment, runs)
    twice = {unit: ids for unit, ids in clusters.items() if len(ids) != 1}
    counts = {dag_id: len(units) for dag_id, units in deferred.items()}
    print(
        f"[faults] condor variants: {took:.0f} s; task instances seen deferred: {counts}; "
        f"{len(clusters)} ran on HTCondor, clusters submitted twice: {twice}"
    )
    assert len(clusters) >= 20 and twice == {}
    assert deployment.leftovers() == []
    assert products(lumi_dir(deployment)) == undisturbed["lumi"]
    # egamma's efficiencies.json indexes its files by absolute path: the same files, in another folder
    on_condor = products(deployment.output_root / "egamma_tnp" / "triggerer_killed")
    assert _index(egamma_dir(deployment)) == _index(deployment.output_root / "egamma_tnp" / "triggerer_killed")
    assert {k: v for k, v in on_condor.items() if k != "efficiencies.json"} == {
        k: v for k, v in undisturbed["egamma"].items() if k != "efficiencies.json"
    }

    again = deployment.trigger_all(
        {"lumi_followup": {k: v for k, v in CONDOR_CONFS["lumi_followup"].items() if k != "force"}}
    )
    assert deployment.wait_for(again, RUNS_TIMEOUT_S)["lumi_followup"]["state"] == "success"
    resubmitted = _clusters_by_task(deployment, again)
    print(f"[faults] the same lumi fills again (fresh): clusters submitted {resubmitted}")
    assert resubmitted == {}


PAUSE_VARIABLE = "HEP_FAULT_PAUSE_AFTER_SUBMIT_S"
KILL_FILL = 6146
LUMI_PRODUCTS = ("sb", "lumi_calc", "lumi_meas", "lifetime", "fits")


def _paused_steps(deployment: Deployment, run_id: str) -> dict[str, Path]:
    """Step -> its submitted.pid, for this run's lumi steps that submitted their job and now pause."""
    from include.condor.submit import name_part

    safe_run = name_part(run_id)
    folder = deployment.output_root / "_condor"
    found = folder.glob("lumi_followup.fill.*/submitted.pid") if folder.is_dir() else []
    return {p.parent.name.split(".")[2]: p for p in found if safe_run in p.parent.name}


def test_a_worker_killed_right_after_submitting_reconnects_to_its_cluster(deployment: Deployment, pool: str) -> None:
    """lumi on HTCondor with worker-1 alone: it is SIGKILLed right after the fill's sb step submitted
    its job (HEP_FAULT_PAUSE_AFTER_SUBMIT_S, an Airflow Variable set for that moment only, holds each
    step there). The retries, on worker-2, find their clusters: no step is submitted twice."""
    deployment.kill("worker-2")
    status, body = deployment.request("POST", "/api/v2/variables", {"key": PAUSE_VARIABLE, "value": "900"})
    assert status in (200, 201), body
    try:
        runs = deployment.trigger_all({"lumi_followup": {"fills": [KILL_FILL], "backend": "condor", "force": "all"}})
        run_id = runs["lumi_followup"]
        paused = deployment.wait_until(
            "sb submitted its job", lambda: "sb" in (p := _paused_steps(deployment, run_id)) and p, 900, 0.5
        )
    finally:
        deployment.request("DELETE", f"/api/v2/variables/{PAUSE_VARIABLE}")
    task_pid = int(paused["sb"].read_text().split()[0])
    assert task_pid in {pid for pid, _sid, _cmd in deployment.processes("worker-1")}
    deployment.restart("worker-2")
    killed = deployment.kill("worker-1")
    print(f"[faults] SIGKILL worker-1 ({killed} processes) right after {sorted(paused)} submitted")

    final = deployment.wait_for(runs, RUNS_TIMEOUT_S)
    states = deployment.states("lumi_followup", run_id)
    assert final["lumi_followup"]["state"] == "success", {k: t["state"] for k, t in states.items()}
    sb = states[("fill.sb", 0)]
    assert sb["try_number"] >= 2, sb
    log = deployment.task_log("lumi_followup", run_id, "fill.sb", sb["try_number"], map_index=0)
    assert "not submitting again" in log, log[-3000:]
    clusters = _clusters_by_task(deployment, runs)
    print(f"[faults] sb retried (try {sb['try_number']}); clusters per step task: {clusters}")
    assert any(".fill.sb." in name for name in clusters)
    assert all(len(ids) == 1 for ids in clusters.values()), clusters
    fill_dir = deployment.output_root / "lumi_followup" / f"fill_{KILL_FILL}"
    assert all((fill_dir / f"fill_{KILL_FILL}_{name}.parquet").is_file() for name in LUMI_PRODUCTS)
    assert deployment.leftovers() == []
    deployment.restart("worker-1")


MASSI_FACTOR = 1.25  # the new calibration of the re-published archives
MASSI_EXPERIMENTS = ("ATLAS", "CMS")


def _fill_db_rows(engine: Any) -> dict[tuple[int, str, str], dict[str, Any]]:
    import sqlalchemy as sa

    from include.massi.filedb import archives

    with engine.connect() as conn:
        return {(r.year, r.experiment, r.archive): dict(r._mapping) for r in conn.execute(sa.select(archives))}


def _lock_waiters(conn: Any) -> int:
    """Backends of the fill database waiting for a lock (the scan, blocked by the test's lock)."""
    import sqlalchemy as sa

    query = "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'"
    try:
        return int(conn.execute(sa.text(query)).scalar())
    finally:
        conn.rollback()  # pg_stat_activity is read once per transaction: a new one for every look


def _unfinished(deployment: Deployment, dag_id: str) -> list[str]:
    return [r["dag_run_id"] for r in deployment.runs(dag_id) if r["state"] not in FINISHED]


def _reprocessings_of(deployment: Deployment, fill: int, since: float) -> list[tuple[str, int]]:
    """(run, try of its reprocess task) for every lumi_reprocess run after ``since`` that marked
    ``fill``'s changes processed."""
    from datetime import datetime

    done = []
    for run in deployment.runs("lumi_reprocess"):
        if datetime.fromisoformat(run["run_after"]).timestamp() < since:
            continue
        tis = deployment.task_instances("lumi_reprocess", run["dag_run_id"])
        for ti in tis:
            label = str(ti.get("rendered_map_index") or "")
            if (
                ti["task_id"] == "fill.mark_processed"
                and ti["state"] == "success"
                and label.startswith(f"fill {fill} ")
            ):
                (reprocess,) = [
                    t for t in tis if t["task_id"] == "fill.reprocess" and t["map_index"] == ti["map_index"]
                ]
                done.append((run["dag_run_id"], reprocess["try_number"]))
    return done


def test_massi_changes_are_processed_exactly_once_through_killed_workers(
    deployment: Deployment, undisturbed: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fill 6140's two Massi archives are re-published. massi_watch's scan is held on a lock of the
    fill database (PostgreSQL, as a concurrent writer would) and worker-1, running it alone, is
    SIGKILLed; then the reprocessing of the fill is struck the same way on worker-2. Each change is
    recorded once and processed once (processed_seq == change_seq on every row), and the fill's
    measured luminosity follows the new calibration."""
    import json

    import sqlalchemy as sa

    from include.massi.watch import pending_reprocessing

    url = deployment.setting("HEP_FILLDB_URL")
    assert url.startswith("postgresql"), url
    monkeypatch.setenv("HEP_DATA_ROOT", str(deployment.data_root))
    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(deployment.output_root))
    engine = sa.create_engine(url)

    # lumi_reprocess runs on the watcher's asset events: unpaused, as a site would have it
    status, body = deployment.request("PATCH", "/api/v2/dags/lumi_reprocess", {"is_paused": False})
    assert status == 200, body
    # baseline: a scan of what is there now, and its reprocessings done (nothing left pending)
    deployment.wait_for(deployment.trigger_all({"massi_watch": {"settle_seconds": 0}}), RUNS_TIMEOUT_S)
    deployment.wait_until(
        "no Massi change pending and no reprocessing running",
        lambda: not pending_reprocessing(db_url=url) and not _unfinished(deployment, "lumi_reprocess"),
        RUNS_TIMEOUT_S,
        3.0,
    )
    before = _fill_db_rows(engine)
    meas_file = lumi_dir(deployment) / f"fill_{FILL}_lumi_meas.json"
    peaks = json.loads(meas_file.read_text())
    started = time.time()
    for exp in MASSI_EXPERIMENTS:
        republish(massi_archive(deployment.data_root, FILL, exp), MASSI_FACTOR)

    deployment.kill("worker-2")
    with engine.connect() as lock:
        lock.execute(sa.text("lock table massi_archives in exclusive mode"))  # until the rollback below
        deployment.trigger_all({"massi_watch": {"years": [2017], "settle_seconds": 0}})
        with engine.connect() as probe:
            deployment.wait_until("a scan waiting for the fill database", lambda: _lock_waiters(probe), 900, 0.5)
        deployment.restart("worker-2")
        killed = deployment.kill("worker-1")
        lock.rollback()
    print(f"[faults] SIGKILL worker-1 ({killed} processes) during a massi_watch scan")
    deployment.wait_until(
        "massi_watch runs finished", lambda: not _unfinished(deployment, "massi_watch"), RUNS_TIMEOUT_S, 3.0
    )

    def reprocess_running() -> bool:
        return any(
            ti["task_id"] == "fill.reprocess" and ti["state"] == "running"
            for run_id in _unfinished(deployment, "lumi_reprocess")
            for ti in deployment.task_instances("lumi_reprocess", run_id)
        )

    deployment.wait_until("the fill's reprocessing running", reprocess_running, RUNS_TIMEOUT_S, 0.3)
    deployment.restart("worker-1")
    killed = deployment.kill("worker-2")
    print(f"[faults] SIGKILL worker-2 ({killed} processes) during the reprocessing")
    deployment.wait_until(
        "the change processed and no reprocessing running",
        lambda: not pending_reprocessing(db_url=url) and not _unfinished(deployment, "lumi_reprocess"),
        RUNS_TIMEOUT_S,
        3.0,
    )
    deployment.restart("worker-2")

    watch_runs = [r for r in deployment.runs("massi_watch") if r["state"] != "success"]
    assert watch_runs == []
    scans = [
        ti
        for r in deployment.runs("massi_watch")
        for ti in deployment.task_instances("massi_watch", r["dag_run_id"])
        if ti["task_id"] == "scan" and ti["try_number"] >= 2
    ]
    assert scans and all(ti["state"] == "success" for ti in scans), scans  # the struck scan, retried
    after = _fill_db_rows(engine)
    engine.dispose()
    republished = {key for key, row in after.items() if row["fill"] == FILL}
    assert {key[1] for key in republished} == set(MASSI_EXPERIMENTS)
    for key in republished:  # one change each, recorded once though its scan ran twice, processed once
        assert after[key]["change_seq"] == before[key]["change_seq"] + 1, (key, before[key], after[key])
    from include.massi.filedb import FillDB
    from include.massi.watch import group_by_fill, split_followed_up

    db = FillDB(url)
    try:  # changes of fills that no follow-up has finished yet wait for it (none after the demo runs)
        waiting = {g["fill"] for g in split_followed_up(group_by_fill(db.pending()))[1]}
    finally:
        db.close()
    unprocessed = {
        k: (r["change_seq"], r["processed_seq"]) for k, r in after.items() if r["change_seq"] != r["processed_seq"]
    }
    print(
        f"[faults] fill database: {len(after)} archives; unprocessed: {unprocessed} (fills waiting: {sorted(waiting)})"
    )
    assert {after[k]["fill"] for k in unprocessed} <= waiting and FILL not in waiting, unprocessed
    marked = _reprocessings_of(deployment, FILL, started)
    print(
        f"[faults] fill {FILL}: change_seq {[after[k]['change_seq'] for k in sorted(republished)]}, marked by {marked}"
    )
    assert len(marked) == 1 and marked[0][1] >= 2  # once, by the struck reprocessing (retried)
    new = json.loads(meas_file.read_text())
    for exp in MASSI_EXPERIMENTS:
        key = f"peak_bunch_{exp}_cm2s"
        assert new[key] == pytest.approx(peaks[key] * MASSI_FACTOR, rel=2e-3), key
    assert deployment.leftovers() == []
