"""Native stage 2: Poisson-consistent counts, unique events, reproducible outputs, no early stop."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from include.core.errors import ParamError
from include.mu2e import pipeline
from include.mu2e.mixing import mix_job, read_ensemble, split_exact
from include.mu2e.normalizations import ALL_PROCESSES, COSMIC


def _outputs(conf: dict) -> dict[str, bytes]:
    out = Path(conf["output_dir"])
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.glob("job_*/dts.*"))}


def _events(conf: dict) -> list[tuple[str, int]]:
    out = Path(conf["output_dir"])
    pairs = []
    for path in sorted(out.glob("job_*/dts.*")):
        table, names = read_ensemble(path)
        files = [names["source_files"][f] for f in table["source_file_id"]]
        pairs += list(zip(files, table["source_entry"].tolist(), strict=True))
    return pairs


def test_one_hour_ensembles_match_expectation_over_seeds(mu2e_data: Path):
    chi2_total, dof_total = 0.0, 0
    for seed, tag in enumerate(("MDS3a", "MDS3b", "MDS3c", "MDS3d", "MDS3e"), start=1):
        conf = pipeline.validate_params({"tag": tag, "livetime": "1 h", "seed": seed, "njobs": 4})
        pipeline.run_all(conf)
        validation = json.loads((Path(conf["output_dir"]) / "validation.json").read_text())
        record = json.loads((Path(conf["output_dir"]) / f"{tag}.json").read_text())
        chi = validation["chi_square"]
        assert chi["dof"] == 6 and chi["p_value"] > 0.01, (tag, chi)
        chi2_total, dof_total = chi2_total + chi["chi2"], dof_total + chi["dof"]
        for process, entry in record["processes"].items():
            assert validation["expected"][process] == pytest.approx(entry["mu"])
        assert validation["observed"][COSMIC] == round(record["processes"][COSMIC]["mu"])
        pairs = _events(conf)
        assert len(pairs) == len(set(pairs)) == sum(validation["observed"].values())
        assert validation["duplicates"] == 0
    assert stats.chi2.sf(chi2_total, dof_total) > 0.01


def test_rerun_does_nothing_and_forced_rerun_is_identical(mu2e_data: Path, roots):
    conf = pipeline.validate_params({"tag": "MDS3c"})
    first = pipeline.run_all(conf)
    assert all(j["steps"][0]["state"] == "ran" for j in first["jobs"])
    outputs = _outputs(conf)
    assert len(outputs) == 4
    again = pipeline.run_all(conf)
    assert all(j["steps"][0]["state"] == "fresh" for j in again["jobs"])
    pipeline.run_all(conf, force="all")
    assert _outputs(conf) == outputs
    # a fresh output root and ledger give the same ensemble
    shutil.rmtree(roots[1])
    roots[1].mkdir()
    fresh = pipeline.validate_params({"tag": "MDS3c"})
    pipeline.run_all(fresh)
    assert _outputs(fresh) == outputs


def test_jobs_out_of_order_read_their_reserved_ranges(mu2e_data: Path):
    conf = pipeline.validate_params({"tag": "MDS3c"})
    for step in ("normalize", "campaign", "jobs"):
        pipeline.run_campaign_step(conf, step)
    plan = json.loads((Path(conf["output_dir"]) / "jobs.json").read_text())
    for index in (3, 1, 0, 2):
        report = pipeline.run_job(conf, index)
        counts = json.loads((Path(conf["output_dir"]) / f"job_{index:04d}" / "counts.json").read_text())
        assert counts["ranges"] == plan["jobs"][index]["ranges"]
        assert report["counts"] == plan["jobs"][index]["counts"]
    with pytest.raises(ParamError, match="index"):
        pipeline.run_job(conf, 4)


def test_exhausted_dataset_does_not_end_the_job(mu2e_data: Path, tmp_path: Path):
    conf = pipeline.validate_params({"tag": "MDS3c", "ledger_url": f"sqlite:///{tmp_path / 'l.sqlite'}"})
    for step in ("normalize", "campaign", "jobs"):
        pipeline.run_campaign_step(conf, step)
    out = Path(conf["output_dir"])
    plan = json.loads((out / "jobs.json").read_text())
    record = json.loads((out / "MDS3c.json").read_text())
    plan["ensemble"] += "-exhaust"
    job = plan["jobs"][0]
    available = sum(record["processes"]["DIO"]["entries_per_file"])
    job["counts"]["DIO"] = available + 500
    result = mix_job(plan, record, 0, conf["data_dir"], tmp_path / "job", conf["ledger_url"])
    assert result["shortfalls"] == {"DIO": {"requested": available + 500, "taken": available}}
    assert result["ended_early"] is True
    for process, n in job["counts"].items():
        if process != "DIO":
            assert result["counts"][process] == n
    table, _ = read_ensemble(tmp_path / "job" / job["output"])
    assert len(table["event"]) == sum(result["counts"].values())


def test_root_output_with_truth_columns(mu2e_data: Path):
    conf = pipeline.validate_params({"tag": "MDS3c", "output_format": "root", "njobs": 2, "livetime": "30 min"})
    pipeline.run_all(conf)
    out = Path(conf["output_dir"])
    counts = json.loads((out / "job_0001" / "counts.json").read_text())
    table, names = read_ensemble(out / "job_0001" / counts["output"])
    assert counts["output"] == "dts.mu2e.ensembleMDS3c.MDC2025af.001430_00000001.root"
    assert names["processes"] == list(ALL_PROCESSES)
    found = {ALL_PROCESSES[i]: int(n) for i, n in zip(*np.unique(table["process_id"], return_counts=True), strict=True)}
    assert found == {p: n for p, n in counts["counts"].items() if n}
    assert np.array_equal(table["event"], np.arange(1, len(table["event"]) + 1))
    # drawn order is mixed, not process blocks
    assert (np.diff(table["process_id"]) != 0).sum() > len(found)


def test_split_exact():
    assert split_exact(10, 4) == [3, 3, 2, 2]
    assert sum(split_exact(3693, 7)) == 3693


def test_validation_catches_reused_events(mu2e_data: Path):
    conf = pipeline.validate_params({"tag": "MDS3c", "njobs": 2, "livetime": "30 min"})
    pipeline.run_all(conf)
    out = Path(conf["output_dir"])
    first = json.loads((out / "job_0000" / "counts.json").read_text())
    second = json.loads((out / "job_0001" / "counts.json").read_text())
    shutil.copyfile(out / "job_0000" / first["output"], out / "job_0001" / second["output"])
    with pytest.raises(pipeline.PermanentError, match="used more than once"):
        pipeline.run_campaign_step(conf, "validate", "validate")
    validation = json.loads((out / "validation.json").read_text())
    assert validation["duplicates"] == first["events"] and not validation["ok"]
    assert any("differs from counts.json" in p for p in validation["problems"])
