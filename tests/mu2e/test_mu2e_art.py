"""The art backend: template fcl, jobpars.json, job tar and per-job configs field by field;
the SamplingInput emulator's RNG and stopping rule; the audit of end-of-job summaries."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from include.mu2e import art, fhicl
from include.mu2e.campaign import CampaignSpec, build_campaign
from include.mu2e.emulator import DiscreteDistribution, MinstdRand0, format_summary, generate_canonical, sample


@pytest.fixture
def record(mu2e_data: Path) -> dict:
    return build_campaign(CampaignSpec(tag="MDS3c", njobs=4, seed=11), mu2e_data)


@pytest.fixture
def jobdef(record: dict, tmp_path: Path) -> tuple[dict, Path]:
    return art.write_jobdef(record, tmp_path / "art", owner="mu2epro"), tmp_path / "art"


def test_template_fields(record: dict, jobdef):
    _, out = jobdef
    text = (out / "SamplingInput_sr0.fcl").read_text()
    config = fhicl.loads(text)
    assert config["process_name"] == "SI"
    source = config["source"]
    assert source["module_type"] == "SamplingInput"
    assert source["inputCommands"] == [
        "keep *",
        "keep mu2e::CosmicLivetime_*_*_*",
        "drop *_genCounter_*_*",
        "drop *_protonBunchIntensity_*_*",
    ]
    assert source["dropDescendantsOfDroppedBranches"] is False
    assert (source["run"], source["subRun"], source["samplingSeed"]) == (1430, 0, 11)
    assert source["maxEvents"] == 2147483647
    assert sorted(source["dataSets"]) == sorted(record["processes"])
    for label, block in source["dataSets"].items():
        assert set(block) == {"fileNames", "weight", "skipToEvent"}
        assert block["fileNames"] == [Path(record["processes"][label]["files"][0]).name]
        assert block["weight"] == pytest.approx(record["weights"][label], rel=1e-6)
        assert block["skipToEvent"] == ""
    assert [k for k in source["dataSets"] if "Cosmic" in k] == ["CRYCosmic"]
    output = config["outputs"]["OutputMC"]
    assert output["module_type"] == "RootOutput" and output["outputCommands"] == ["keep *_*_*_*"]
    assert output["fileName"] == "dts.mu2e.ensembleMDS3c.MDC2025af.001430_00000000.art"
    assert config["physics"]["trigger_paths"] == []
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert any("livetime: onspill 3600 s" in c for c in comments)  # the real livetime, not zero
    assert any("DEM_emin: 95.0 MeV" in c for c in comments) and any("tmin: 350.0 ns" in c for c in comments)
    assert any("run: 1430" in c for c in comments) and any("expected events" in c for c in comments)


def test_job_tar_and_jobpars(record: dict, jobdef):
    result, out = jobdef
    tar = Path(result["tar"])
    assert tar.name == "cnf.mu2e.ensembleMDS3c.MDC2025af.0.tar"  # mu2epro -> mu2e
    with tarfile.open(tar) as handle:
        assert sorted(handle.getnames()) == ["jobpars.json", "mu2e.fcl"]
        pars = json.loads(handle.extractfile("jobpars.json").read())
        assert handle.extractfile("mu2e.fcl").read().decode() == (out / "SamplingInput_sr0.fcl").read_text()
    assert pars["jobname"] == tar.name
    assert pars["setup"].endswith("/MDC2025af/setup.sh")
    tbs = pars["tbs"]
    assert tbs["event_id"] == {"source.run": 1430, "source.maxEvents": "2147483647"}
    assert tbs["subrunkey"] == "source.subRun"
    assert tbs["outfiles"] == {"outputs.OutputMC.fileName": "dts.mu2e.ensembleMDS3c.MDC2025af.SEQ.art"}
    assert tbs["samplingseed"] == {"source.samplingSeed": 11}
    assert set(tbs["samplinginput"]) == {f"source.dataSets.{label}.fileNames" for label in record["processes"]}
    for label, (per_job, names) in ((k.split(".")[2], v) for k, v in tbs["samplinginput"].items()):
        assert per_job == 1
        assert names == [Path(f).name for f in record["processes"][label]["files"]]
    assert "seed" not in tbs  # the template has no SeedService
    again = art.write_jobdef(record, out.parent / "again", owner="mu2epro")
    assert Path(again["tar"]).read_bytes() == tar.read_bytes()  # deterministic bytes
    index = json.loads((out / "index_definition.json").read_text())
    assert index == {
        "name": "idx_mu2e.ensembleMDS3c.MDC2025af",
        "dataset": "etc.mu2e.index.000.txt",
        "dimensions": "dh.sequencer < 0000004",
    }


def test_per_job_configs(record: dict, jobdef):
    result, out = jobdef
    seeds = []
    for j in range(4):
        config = fhicl.loads((out / f"job_{j:04d}" / "mu2e.fcl").read_text())
        source = config["source"]
        assert source["subRun"] == j
        seeds.append(source["samplingSeed"])
        for label, block in source["dataSets"].items():
            assert block["fileNames"] == [Path(record["processes"][label]["files"][j]).name]
        assert config["outputs"]["OutputMC"]["fileName"] == f"dts.mu2e.ensembleMDS3c.MDC2025af.001430_{j:08d}.art"
        assert result["jobs"][j]["seed"] == source["samplingSeed"]
    assert seeds == [11, 12, 13, 14]  # one distinct seed per job (base + j)


def test_legacy_constant_seed_option(record: dict):
    pars = art.jobpars(record, owner="mu2e", legacy_constant_sampling_seed=True)
    assert "samplingseed" not in pars["tbs"]
    assert {art.job_overrides(pars, j, base_seed=1)["source.samplingSeed"] for j in range(4)} == {1}


def test_unequal_lists_and_thin_job_files_are_refused(record: dict, tmp_path: Path):
    broken = json.loads(json.dumps(record))
    broken["processes"]["DIO"]["files"] = broken["processes"]["DIO"]["files"][:3]
    with pytest.raises(art.JobDefinitionError, match="differ"):
        art.file_lists(broken, 1)
    thin = json.loads(json.dumps(record))
    thin["processes"]["DIO"]["entries_per_file"][2] = 1
    with pytest.raises(art.JobDefinitionError, match="DIO"):
        art.write_jobdef(thin, tmp_path / "thin", owner="mu2e")
    assert not (tmp_path / "thin").exists()


def test_minstd_rand0_and_canonical():
    engine = MinstdRand0(1)
    for _ in range(9999):
        engine()
    assert engine() == 1043618065  # the C++ standard's check value for minstd_rand0
    assert MinstdRand0(0).state == 1
    values = [generate_canonical(MinstdRand0(seed)) for seed in range(1, 200)]
    assert all(0.0 <= v < 1.0 for v in values)
    dist = DiscreteDistribution([1.0, 0.0, 3.0])
    engine = MinstdRand0(5)
    picks = [dist(engine) for _ in range(4000)]
    assert picks.count(1) == 0 and 0.7 < picks.count(2) / 4000 < 0.8


def test_emulator_stops_at_first_exhausted_dataset(record: dict, jobdef, mu2e_data: Path):
    result, out = jobdef
    job = out / "job_0001"
    for rel in result["jobs"][1]["inputs"]:
        shutil.copy(mu2e_data / rel, job)
    config = fhicl.loads((job / "mu2e.fcl").read_text())
    first = sample(config, job)
    assert first["exhausted"] is not None and first["next_event"][first["exhausted"]] == "(no more available)"
    exhausted_entries = record["processes"][first["exhausted"]]["entries_per_file"][1]
    assert first["counts"][first["exhausted"]] == exhausted_entries
    assert sum(first["counts"].values()) == first["total"]
    assert sample(config, job) == first  # same seed, same job
    capped = sample(config, job, max_events=100)
    assert capped["total"] == 100 and capped["exhausted"] is None
    parsed = art.parse_summary(format_summary(first))
    assert parsed["counts"] == first["counts"] and parsed["exhausted"] == [first["exhausted"]]
    csv, totals = art.audit([format_summary(first), format_summary(capped)], record["weights"])
    assert totals == {k: first["counts"][k] + capped["counts"][k] for k in record["weights"]}
    assert csv.splitlines()[0] == "Dataset,Counts,fraction_sampled,fraction_expected,weight"


def test_incomplete_summary_is_an_error():
    with pytest.raises(Exception, match="SamplingInput summary"):
        art.parse_summary("DIO | 3 | 0.1 | 0.1 | 1e-1 | (no more available)\n")
