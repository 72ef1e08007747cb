"""Config readers: schema, precedence (settings win), derived probe pt cut, binning, fileset paths."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from include.core.errors import ConfigError, ParamError
from include.tnp import config as cfg
from include.tnp.expressions import ExpressionError
from include.tnp.options import find_pt_threshold

HLT = "HLT_Ele32_WPTight_Gsf"


def runner(**overrides) -> dict:
    base = {
        "workflow": "ElectronTagNProbeFromNanoAOD",
        "workflow_args": {"filters": {HLT: HLT, "id": "cutBased >= 2"}, "trigger_pt": {HLT: 32}, "filterbit": {HLT: 1}},
        "methods": [{"name": "get_nd_tnp_histograms", "args": {"filter": [HLT, "id"]}}],
    }
    base.update(overrides)
    return base


def test_methods_expand_per_filter_and_count_repeats() -> None:
    r = runner(
        methods=[
            {"name": "get_nd_tnp_histograms", "args": {"filter": [HLT, "id"]}},
            {"name": "get_tnp_arrays", "args": {}},
            {"name": "get_nd_tnp_histograms", "args": {"filter": "id", "cut_and_count": False}},
        ]
    )
    loaded = cfg.load_runner(r)
    assert [(m.folder, m.filter) for m in loaded.methods] == [
        ("get_nd_tnp_histograms_1", HLT),
        ("get_nd_tnp_histograms_1", "id"),
        ("get_tnp_arrays_1", None),
        ("get_nd_tnp_histograms_2", "id"),
    ]
    assert loaded.methods[0].args["weight"] == "weight" and loaded.methods[3].args["cut_and_count"] is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra": 1}, "unknown key"),
        ({"workflow": "ElectronTagNProbe"}, "is not one of"),
        ({"methods": [{"name": "get_tnp_histograms", "args": {"filter": HLT}}]}, "get_tnp_histograms does not exist"),
        ({"methods": [{"name": "get_nd_tnp_histograms", "args": {"filter": HLT, "compute": True}}]}, "may not be set"),
        ({"methods": [{"name": "get_nd_tnp_histograms", "args": {}}]}, "'filter' is required"),
        ({"methods": [{"name": "get_nd_tnp_histograms", "args": {"filter": "nope"}}]}, "unknown filter 'nope'"),
        ({"methods": [{"name": "get_nd_tnp_histograms", "args": {"filter": HLT, "colour": 1}}]}, "unknown argument"),
        ({"methods": [{"name": "get_nd_tnp_histograms", "args": {"filter": HLT, "vars": "el_pt"}}]}, "vars must be"),
        (
            {
                "methods": [
                    {"name": "get_tnp_arrays", "args": {"uproot_options": {"allow_read_errors_with_report": ["Nope"]}}}
                ]
            },
            "not builtin exceptions",
        ),
        ({"workflow_args": {"filters": {HLT: HLT}, "filtrbit": [1]}}, "not accepted"),
        ({"methods": []}, "non-empty list"),
    ],
)
def test_runner_errors_name_the_key(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg.load_runner(runner(**change))


def test_unknown_filter_expression_is_refused_at_read_time() -> None:
    with pytest.raises(ExpressionError, match=r"filter 'bad'.*only abs\(x\) calls are allowed"):
        cfg.load_runner(
            runner(workflow_args={"filters": {"bad": "__import__('os')"}}, methods=[{"name": "get_tnp_arrays"}])
        )


def test_settings_override_workflow_args_and_unknown_keys_warn(caplog) -> None:
    r = cfg.load_runner(runner(workflow_args={**runner()["workflow_args"], "tags_pt_cut": 50, "use_sc_eta": False}))
    settings, warnings = cfg.load_settings_file({"tags_pt_cut": 40, "use_sc_eta": True, "colour": "red"})
    assert warnings == ["inline settings: unknown settings key 'colour' ignored"]
    with caplog.at_level(logging.WARNING):
        opts = cfg.build_options(r, {**settings, "start_from_diphotons": False})
    assert opts.tags_pt_cut == 40 and opts.use_sc_eta is True  # settings win
    assert "start_from_diphotons" in caplog.text  # accepted by photons only: ignored with a warning
    assert opts.trigger_pt == {HLT: 32} and opts.filterbit == {HLT: 1}


def test_settings_type_errors() -> None:
    with pytest.raises(ConfigError, match="'use_sc_eta' has the wrong type"):
        cfg.load_settings_file({"use_sc_eta": "False"})  # a string is not a boolean


def test_trigger_filter_needs_a_filter_bit() -> None:
    r = cfg.load_runner(runner(workflow_args={"filters": {HLT: HLT}}, methods=[{"name": "get_tnp_arrays"}]))
    with pytest.raises(ConfigError, match="needs a TrigObj filter bit"):
        cfg.build_options(r, {})


@pytest.mark.parametrize(
    ("expr", "threshold"),
    [
        ("HLT_Ele30_WPTight_Gsf", 30),
        ("cutBased >= 2", 0),
        ("HLT_Ele23_Ele12_CaloIdL_TrackIdL_IsoVL_Leg1", 23),
        ("HLT_Ele23_Ele12_CaloIdL_TrackIdL_IsoVL_Leg2", 12),
    ],
)
def test_find_pt_threshold(expr: str, threshold: int) -> None:
    assert find_pt_threshold(expr) == threshold


def test_derived_probes_pt_cut() -> None:
    one_trigger = cfg.load_runner(
        runner(
            workflow_args={"filters": {"t": "HLT_Ele30_WPTight_Gsf"}, "filterbit": [1]},
            methods=[{"name": "get_tnp_arrays"}],
        )
    )
    assert cfg.build_options(one_trigger, {}).effective_probes_pt_cut() == 27
    one_id = cfg.load_runner(
        runner(workflow_args={"filters": {"id": "cutBased >= 2"}}, methods=[{"name": "get_tnp_arrays"}])
    )
    assert cfg.build_options(one_id, {}).effective_probes_pt_cut() == -3
    two = cfg.load_runner(runner())
    assert cfg.build_options(two, {}).effective_probes_pt_cut() == 5
    assert cfg.build_options(two, {"probes_pt_cut": 20}).effective_probes_pt_cut() == 20


def test_default_binning_and_override() -> None:
    default = cfg.default_binning()
    eta = default["el_eta_bins"]
    assert len(eta) - 1 == 48
    i = eta.index(-1.566)
    assert eta[i - 1 : i + 3] == [-1.7, -1.566, -1.4442, -1.3]
    assert len(default["pt_bins"]) == 22 and default["phi_bins"][0] == -3.32
    custom = cfg.load_binning({"el_pt_bins": [10, 20, 50]})
    assert custom["el_pt_bins"] == [10, 20, 50] and custom["el_eta_bins"] == eta
    assert cfg.default_binning()["el_pt_bins"] == default["el_pt_bins"]  # nothing global changed
    with pytest.raises(ConfigError, match="strictly increasing"):
        cfg.load_binning({"el_pt_bins": [10, 5]})
    with pytest.raises(ConfigError, match="no 'el_r9_bins'"):
        cfg.bins_for(default, "el_r9")


def test_fileset_paths_limit_gzip_and_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sets").mkdir(parents=True)
    for name in ("a.root", "b.root"):
        (data / "sets" / name).write_bytes(b"x")
    fileset = {"/DY/Run3/NANO": {"files": {"a.root": "Events", "b.root": "Events"}, "metadata": {"isMC": True}}}
    (data / "sets" / "fs.json.gz").write_bytes(gzip.compress(json.dumps(fileset).encode()))
    (ds,) = cfg.load_fileset("sets/fs.json.gz", data, limit=1)
    assert ds.folder == "DY_Run3_NANO"
    assert list(ds.files) == [str(data / "sets" / "a.root")]
    (ds,) = cfg.load_fileset("sets/fs.json.gz", data, limit=None)
    assert len(ds.files) == 2
    with pytest.raises(ConfigError, match="limit"):
        cfg.load_fileset("sets/fs.json.gz", data, limit=0)
    outside = {"x": {"files": {"../../etc/passwd": "Events"}}}
    with pytest.raises(ParamError, match="outside the allowed roots"):
        cfg.load_fileset(outside, data)
    with pytest.raises(ParamError, match="metacharacter"):
        cfg.load_fileset({"x;rm": {"files": {"a.root": "Events"}}}, data)
    with pytest.raises(ConfigError, match="not valid JSON"):
        cfg.load_fileset("{not json", data)
    with pytest.raises(ParamError, match="does not exist"):
        cfg.load_fileset("sets/missing.json", data)
