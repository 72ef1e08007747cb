"""End to end: re-published Massi archives are reprocessed exactly once, and nothing is lost.

Ten generated fills (20 archives) are processed once; then 3 archives get new content, one is
only touched and a new fill's archives appear. ``massi_watch`` (dag.test) must announce exactly
the 3 changed fills and the new one, ``lumi_reprocess`` (dag.test) must re-run massi and its
downstream steps for those only, with the new measured luminosity, dated backups and new plots.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dag_support import load_dag
from lumi_support import massi_archive, republish

REPO = Path(__file__).resolve().parents[2]
FILLS = (6140, 6141, 6142, 6143, *range(6146, 6153))  # 11 fills (6144, 6145 come without stable beams)
NEW_FILL = 6152
BASELINE = (6140, 6141, 6142)  # processed before the change; the others enter as the legacy baseline
REPUBLISHED = {(6140, "ATLAS"), (6141, "CMS"), (6142, "ATLAS")}
TOUCHED = (6143, "CMS")
OVERRIDES = {"plotDpi": 20, "doCyclePlots": False}
FACTOR = 1.25

pytestmark = pytest.mark.slow


def _archive(data: Path, fill: int, exp: str) -> Path:
    return massi_archive(data, fill, exp)


def _events_of(run_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "lumi_massi_changes", AssetEvent.source_run_id == run_id)
        )
        return [dict(e.extra) for e in session.scalars(query)]


def _meas(output: Path, fill: int) -> dict:
    return json.loads((output / "lumi_followup" / f"fill_{fill}" / f"fill_{fill}_lumi_meas.json").read_text())


def _manifest_time(output: Path, fill: int, step: str) -> str:
    return json.loads((output / "lumi_followup" / f"fill_{fill}" / f"{step}.manifest.json").read_text())["finished"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from include.lumi.demo import DemoOptions, generate

    data = tmp_path_factory.mktemp("massi-data")
    generate(data / "lumi", 3, fills=FILLS, options=DemoOptions(n_bunches=24, bsrt_period=20.0))
    return data


@pytest.fixture
def world(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Data and output roots, the fill DB, and the baseline: 10 fills (20 archives) known and processed."""
    from include.lumi.planning import remember_processed
    from include.lumi.tasks import process_fill
    from include.massi.filedb import FillDB
    from include.massi.watch import scan_years

    data, output = tmp_path / "data", tmp_path / "output"
    shutil.copytree(generated, data)
    output.mkdir()
    url = f"sqlite:///{tmp_path / 'filldb.sqlite'}"
    for key, value in {"HEP_DATA_ROOT": data, "HEP_OUTPUT_ROOT": output, "HEP_FILLDB_URL": url}.items():
        monkeypatch.setenv(key, str(value))
    hidden = tmp_path / "not-yet-published"
    hidden.mkdir()
    for exp in ("ATLAS", "CMS"):  # the new fill's archives appear later
        shutil.move(_archive(data, NEW_FILL, exp), hidden / f"{exp}.tgz")
    result = scan_years([2017], settle_seconds=0)
    # nothing processed yet: every new fill waits for lumi_followup, none is announced for reprocessing
    assert result["pending"] == [] and len(result["waiting"]) == 10
    assert sum(len(g["changes"]) for g in result["waiting"]) == 20
    for fill in BASELINE:
        assert process_fill(fill, config={"year": 2017, **OVERRIDES})["ok"]
    remember_processed(2017, max(BASELINE), "baseline")  # what a successful lumi_followup run records
    db = FillDB(url)
    db.mark_processed(db.pending())
    db.close()
    return data, output, url, hidden


def _publish_changes(data: Path, hidden: Path) -> None:
    for fill, exp in REPUBLISHED:
        republish(_archive(data, fill, exp), FACTOR)
    touched = _archive(data, *TOUCHED)
    later = touched.stat().st_mtime + 7200
    os.utime(touched, (later, later))
    for exp in ("ATLAS", "CMS"):
        shutil.move(hidden / f"{exp}.tgz", _archive(data, NEW_FILL, exp))


def test_three_republished_archives_give_exactly_three_reprocessings(world) -> None:
    from include.lumi.planning import remember_processed
    from include.lumi.tasks import process_fill
    from include.massi.filedb import FillDB

    data, output, url, hidden = world
    before = {fill: _meas(output, fill) for fill in BASELINE}
    untouched_time = _manifest_time(output, 6140, "sb")
    _publish_changes(data, hidden)

    watch = load_dag("massi_watch.py", "massi_watch")
    run = watch.test(run_conf={"years": [2017], "settle_seconds": 0})
    assert run.state == "success"
    events = _events_of(run.run_id)
    # the new fill is lumi_followup's: it is not announced before the follow-up has processed it
    assert sorted(e["fill"] for e in events) == [6140, 6141, 6142]
    by_fill = {e["fill"]: e for e in events}
    change = by_fill[6141]["changes"][0]
    assert by_fill[6141]["experiments"] == ["CMS"] and change["experiment"] == "CMS"
    assert change["prev_sha256"] != change["sha256"] and change["mtime"] == change["prev_mtime"] + 3600

    reprocess = load_dag("lumi_reprocess.py", "lumi_reprocess")
    run = reprocess.test(run_conf={"backend": "local", "config_overrides": OVERRIDES})
    assert run.state == "success"
    db = FillDB(url)
    assert {c.fill for c in db.pending()} == {NEW_FILL}  # still waiting for the follow-up
    assert not (output / "lumi_followup" / f"fill_{NEW_FILL}").exists()

    # the daily follow-up processes the new fill; the next scan announces its archives, and the
    # reprocessing finds its products made from them: nothing runs, the changes are processed
    assert process_fill(NEW_FILL, config={"year": 2017, **OVERRIDES})["ok"]
    remember_processed(2017, NEW_FILL, "daily")
    run = watch.test(run_conf={"years": [2017], "settle_seconds": 0})
    (event,) = _events_of(run.run_id)
    assert event["fill"] == NEW_FILL and sorted(event["experiments"]) == ["ATLAS", "CMS"]
    assert all(c["prev_sha256"] is None for c in event["changes"])
    run = reprocess.test(run_conf={"backend": "local", "config_overrides": OVERRIDES})
    assert run.state == "success"
    assert db.pending() == []
    db.close()
    for fill in BASELINE:
        report = json.loads((output / "lumi_followup" / f"fill_{fill}" / "report.json").read_text())
        assert set(report["ran"]) == {"massi", "lifetime", "fits", "plots_meas"}, report["ran"]
        exp = "ATLAS" if (fill, "ATLAS") in REPUBLISHED else "CMS"
        other = "CMS" if exp == "ATLAS" else "ATLAS"
        new = _meas(output, fill)
        assert new[f"peak_bunch_{exp}_cm2s"] == pytest.approx(before[fill][f"peak_bunch_{exp}_cm2s"] * FACTOR, rel=2e-3)
        assert new[f"peak_bunch_{other}_cm2s"] == pytest.approx(before[fill][f"peak_bunch_{other}_cm2s"], rel=1e-9)
        work = output / "lumi_followup" / f"fill_{fill}"
        assert len(list(work.glob(f"fill_{fill}_lumi_meas_2*.parquet"))) == 1  # dated backup
        assert len(list(work.glob(f"fill_{fill}_fits_2*.parquet"))) == 1
        assert list((work / "plots").glob("*.png"))
    assert _manifest_time(output, 6140, "sb") == untouched_time  # sb was not re-run
    new_report = json.loads((output / "lumi_followup" / f"fill_{NEW_FILL}" / "report.json").read_text())
    assert new_report["ok"] and new_report["ran"] == []
    assert not (output / "lumi_followup" / "fill_6143").exists()  # touched only: nothing ran
    # a second scan finds nothing to announce
    run = watch.test(run_conf={"years": [2017], "settle_seconds": 0})
    assert run.state == "success" and _events_of(run.run_id) == []


def _locked(lock: Path) -> bool:
    """True if another process holds the unit lock file ``lock`` (an exclusive flock)."""
    try:
        handle = open(lock, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_killed_reprocessing_loses_nothing(world) -> None:
    from include.massi.filedb import FillDB, archives
    from include.massi.watch import scan_years

    data, output, url, hidden = world
    before = {fill: _meas(output, fill) for fill in BASELINE}
    _publish_changes(data, hidden)
    scanned = scan_years([2017], settle_seconds=0)
    assert len(scanned["pending"]) == 3 and [g["fill"] for g in scanned["waiting"]] == [NEW_FILL]
    code = (
        "from include.massi.filedb import FillDB\n"
        "from include.massi.watch import filldb_url, group_by_fill, reprocess_fill\n"
        "for g in group_by_fill(FillDB(filldb_url()).pending()):\n"
        f"    reprocess_fill(g, config_overrides={OVERRIDES!r})\n"
        "    print('done', g['fill'], flush=True)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[0] == "done"
        # in the middle of the next fill: the child holds that fill's unit lock (process_fill holds it
        # for the fill's steps and report); waiting for it instead of sleeping holds on a loaded machine
        deadline = time.monotonic() + 600
        done_dir = f"fill_{first[1]}"
        while not any(
            _locked(lock) for lock in output.glob("lumi_followup/fill_*/.lock") if lock.parent.name != done_dir
        ):
            assert proc.poll() is None, "the reprocessing ended before it was killed"
            assert time.monotonic() < deadline, "the reprocessing did not start the next fill within 600 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=300)
    db = FillDB(url)
    pending_after_kill = {c.fill for c in db.pending()}
    assert int(first[1]) not in pending_after_kill and len(pending_after_kill) >= 2

    # the watcher runs again and the reprocessing resumes: everything ends processed
    result = scan_years([2017], settle_seconds=0)
    assert sorted(g["fill"] for g in result["pending"] + result["waiting"]) == sorted(pending_after_kill)
    from include.massi.watch import reprocess_fill

    for group in result["pending"] + result["waiting"]:
        assert reprocess_fill(group, config_overrides=OVERRIDES)["marked"] == len(group["changes"])
    assert db.pending() == []
    with db.engine.connect() as conn:
        rows = conn.execute(archives.select()).all()
    assert all(r.processed_seq == r.change_seq for r in rows if r.state == "current")
    db.close()
    for fill, exp in REPUBLISHED:
        assert _meas(output, fill)[f"peak_bunch_{exp}_cm2s"] == pytest.approx(
            before[fill][f"peak_bunch_{exp}_cm2s"] * FACTOR, rel=2e-3
        )
