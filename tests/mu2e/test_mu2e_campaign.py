"""Stage 1: campaign config from the inputs, shortfall failure, legacy text forms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from include.core.errors import InputFileError, ParamError
from include.mu2e import pipeline
from include.mu2e.campaign import (
    CampaignSpec,
    ShortfallError,
    build_campaign,
    legacy_text,
    oct2024_text,
    read_legacy,
)
from include.mu2e.constants import BEAM_MODES
from include.mu2e.normalizations import COSMIC, Normalization, NormParams
from include.mu2e.ntuple import dataset_files, read_info, sidecar_path, write_ntuple


def test_campaign_numbers_follow_the_inputs(mu2e_data: Path):
    spec = CampaignSpec(njobs=4)
    record = build_campaign(spec, mu2e_data)
    norm = Normalization(spec.norm)
    for process, entry in record["processes"].items():
        files = dataset_files(mu2e_data / entry["dataset"])[:4]
        assert entry["files"] == [f.relative_to(mu2e_data).as_posix() for f in files]
        infos = [read_info(f) for f in files]
        reco, gen = sum(i.entries for i in infos), sum(i.gen_count for i in infos)
        assert (entry["reco"], entry["gen"]) == (reco, gen)
        if process == COSMIC:
            livetime = sum(i.livetime_s for i in infos)
            assert entry["livetime_available_s"] == pytest.approx(livetime)
            assert entry["mu"] == pytest.approx(3600.0 * reco / livetime)
        else:
            assert entry["mu"] == pytest.approx(norm.yield_of(process).mean * reco / gen)
            assert entry["needed"] == int(np.ceil(entry["mu"] + 5 * np.sqrt(entry["mu"])))
            assert entry["needed"] <= sum(entry["entries_per_file"][: entry["files_needed"]])
    assert sum(record["weights"].values()) == pytest.approx(1.0)
    assert record["beam"]["onspill_s"] == 3600.0
    assert record["beam"]["wallclock_s"] == pytest.approx(3600.0 / 0.323)


def test_shortfall_lists_every_process_and_writes_nothing(mu2e_data: Path):
    conf = pipeline.validate_params({"tag": "MDS3c", "livetime": "10 h"})
    pipeline.run_campaign_step(conf, "normalize")
    with pytest.raises(pipeline.PermanentError, match="insufficient inputs") as info:
        pipeline.run_campaign_step(conf, "campaign")
    message = str(info.value)
    for process in CampaignSpec.processes:
        assert f"{process}: needs" in message
    out = Path(conf["output_dir"])
    assert not (out / "MDS3c.json").exists() and not (out / "jobs.json").exists()
    assert not list(out.glob("job_*"))


def test_shortfall_details(mu2e_data: Path):
    with pytest.raises(ShortfallError) as info:
        build_campaign(CampaignSpec(norm=NormParams(livetime_s=36000.0)), mu2e_data)
    short = info.value.shortfalls
    assert short[COSMIC]["needed"] == 36000.0 and short[COSMIC]["available"] == pytest.approx(4000.0)
    assert short["DIO"]["needed"] > short["DIO"]["available"]


def test_too_few_files(mu2e_data: Path):
    with pytest.raises(ShortfallError, match="files"):
        build_campaign(CampaignSpec(njobs=9), mu2e_data)


def test_livetime_from_inputs(mu2e_data: Path):
    on = build_campaign(CampaignSpec(livetime_from_inputs=True), mu2e_data)
    assert on["beam"]["onspill_s"] == pytest.approx(4000.0)
    spec = CampaignSpec(livetime_from_inputs=True, norm=NormParams(livetime_mode="wallclock"))
    wall = build_campaign(spec, mu2e_data)
    assert wall["beam"]["wallclock_s"] == pytest.approx(4000.0 / BEAM_MODES["1BB"].duty_factor)
    assert wall["processes"][COSMIC]["livetime_target_s"] == pytest.approx(4000.0)


def test_legacy_text_keys_and_round_trip(mu2e_data: Path):
    record = build_campaign(CampaignSpec(), mu2e_data)
    text = legacy_text(record)
    assert all(line.count('="') == 1 and line.endswith('"') for line in text.splitlines())
    values = read_legacy(text)
    required = [
        "njobs",
        "CosmicJob",
        "CosmicGen",
        "primaries",
        "muon_stops",
        "onspilltime",
        "BB",
        "DEM_emin",
        "RPC_TMIN",
        "RPC_emin",
        "RMC_emin",
        "RMC_kmax",
        "IPA_emin",
        "beam_onspill_time",
        "beam_livetime",
        "beam_npot",
        "beam_nmot",
        "beam_pot",
        "dio_events",
        "ipa_events",
        "rpc_internal_events",
        "rpc_external_events",
        "rmc_internal_events",
        "rmc_external_events",
        "livetime_mode",
        "beam_walltime",
        "seed",
    ]
    assert [k for k in required if k not in values] == []
    assert float(values["beam_pot"]) == pytest.approx(record["beam"]["n_pot"], rel=1e-6)
    assert float(values["dio_events"]) == pytest.approx(record["means"]["DIO"], rel=1e-6)
    assert float(values["beam_livetime"]) == pytest.approx(3600 / 0.323, rel=1e-6)


def test_oct2024_layout_and_reader(mu2e_data: Path):
    record = build_campaign(CampaignSpec(norm=NormParams(livetime_mode="wallclock", livetime_s=7200.0)), mu2e_data)
    text = oct2024_text(record)
    keys = [line.split("=")[0] for line in text.splitlines()]
    assert keys[:8] == ["njobs", "cosmicjob", "primaries", "rmue", "dem_emin", "stops", "livetime", "BB"]
    assert "ExternalRPC" in keys and "CORSIKA" in keys
    values = read_legacy(text + "======= combined samples info\nsignal=3\n")
    assert float(values["NPOT"]) == pytest.approx(record["beam"]["n_pot"], rel=1e-6)
    assert values["signal"] == "3"


def test_pipeline_writes_json_and_text(mu2e_data: Path):
    conf = pipeline.validate_params({"tag": "MDS3b", "livetime_mode": "wallclock", "livetime": "2 h"})
    pipeline.run_campaign_step(conf, "normalize")
    pipeline.run_campaign_step(conf, "campaign")
    out = Path(conf["output_dir"])
    record = json.loads((out / "MDS3b.json").read_text())
    assert record["schema"] == "hep-productions/mu2e-campaign/1"
    assert read_legacy((out / "MDS3b.txt").read_text())["livetime_mode"] == "wallclock"
    assert (out / "MDS3b.oct2024.txt").exists()
    report = pipeline.run_campaign_step(conf, "campaign")
    assert report["steps"][0]["state"] == "fresh"


def test_sidecar_fallback_and_corrupt_file(tmp_path: Path):
    events = {k: np.zeros(3) for k in ("run", "subrun", "event", "pdg", "energy", "time", "cos_theta")}
    path = tmp_path / "dts.mu2e.X.MDC2025af.001430_00000000.root"
    write_ntuple(path, events, {"run": [1], "subrun": [0], "genCount": [30], "liveTime": [12.5]})
    info = read_info(path)
    assert (info.entries, info.gen_count, info.livetime_s) == (3, 30, 12.5)
    import uproot

    with uproot.recreate(path) as out:
        out["Events"] = {k: v.astype("float32") for k, v in events.items()}
    with pytest.raises(InputFileError, match="sidecar"):
        read_info(path)
    sidecar_path(path).write_text(json.dumps({"gen_count": 9, "livetime_s": 4.0}))
    assert read_info(path).gen_count == 9
    path.write_bytes(b"not a root file")
    with pytest.raises(InputFileError, match=path.name):
        read_info(path)


@pytest.mark.parametrize(
    ("conf", "param"),
    [
        ({"tag": "MDS3"}, "tag"),
        ({"tag": "mds3c"}, "tag"),
        ({"livetime": "1 week"}, "livetime"),
        ({"livetime": "0 h"}, "livetime"),
        ({"data_dir": "../../etc"}, "data_dir"),
        ({"data_dir": "mu2e;rm -rf /"}, "data_dir"),
        ({"processes": ["DIO", "Nope"]}, "processes"),
        ({"njobs": 0}, "njobs"),
        ({"output_format": "csv"}, "output_format"),
        ({"BB": "3BB"}, "BB"),
    ],
)
def test_invalid_params_name_the_parameter(mu2e_data: Path, conf, param):
    with pytest.raises(ParamError) as info:
        pipeline.validate_params(conf)
    assert info.value.param == param
