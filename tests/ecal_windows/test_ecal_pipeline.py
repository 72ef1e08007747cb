"""The production chain without Airflow: parameters, bad inputs, reproducibility, re-grouping."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import pytest

from include.core.errors import ParamError
from include.ecal_windows import pipeline
from include.ecal_windows.__main__ import main, run
from include.ecal_windows.generator import generate_dataset


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ecal-inputs") / "ecal_windows" / "electrons"
    generate_dataset(target, 4, 80, seed=5, flavour=11)
    return target


@pytest.fixture
def data(roots: tuple[Path, Path], inputs: Path) -> tuple[Path, Path]:
    import shutil

    shutil.copytree(inputs, roots[0] / "ecal_windows" / "electrons")
    return roots


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"input_dir": "/etc"}, "input_dir"),
        ({"input_dir": "../.."}, "input_dir"),
        ({"wp_file": "ecal_windows/electrons/x.json; rm -rf ~"}, "wp_file"),
        ({"output_dir": "a/b"}, "output_dir"),
        ({"maxnocalow": -2}, "maxnocalow"),
        ({"files_per_group": 0}, "files_per_group"),
        ({"window_version": "v9"}, "window_version"),
        ({"nevents": 10}, "nevents"),
        ({"wp_file": "ecal_windows/electrons/dumper_000.root"}, "wp_file"),
        ({"features_file": "ecal_windows/electrons/dumper_000.root"}, "features_file"),
    ],
)
def test_invalid_parameters_name_the_parameter(data, params, name) -> None:
    with pytest.raises(ParamError) as err:
        pipeline.validate_params(params)
    assert err.value.param == name


def test_corrupt_input_is_reported_and_skipped(data) -> None:
    data_root, output = data
    folder = data_root / "ecal_windows" / "electrons"
    (folder / "dumper_001.root").write_bytes(b"\0" * 5000)  # an input file destroyed in place
    outside = data_root.parent / "elsewhere.root"
    outside.write_bytes(b"x")
    (folder / "zz_link.root").symlink_to(outside)
    result = run({"files_per_group": 2, "output_dir": "skip"})
    assert [Path(b["path"]).name for b in result["bad_inputs"]] == ["dumper_001.root", "zz_link.root"]
    assert "outside the data root" in result["bad_inputs"][1]["problem"]
    report = json.loads((output / "ecal_windows_dataset" / "skip" / "inputs_report.json").read_text())
    assert [len(g["files"]) for g in report["groups"]] == [2, 1]
    assert all(g["ok"] for g in result["groups"]) and result["windows"] > 0
    meta = (output / "ecal_windows_dataset" / "skip" / "groups" / "0001" / "clusters_data_1.meta.csv").read_text()
    assert len(meta.splitlines()) == 1 + 2 * 80


def test_same_inputs_and_seed_give_identical_bytes(data) -> None:
    _, output = data
    conf = {"overlap": True, "maxnocalow": 3, "random_seed": 9, "files_per_group": 2}
    a = run({**conf, "output_dir": "a"})
    b = run({**conf, "output_dir": "b"})
    root = output / "ecal_windows_dataset"
    for job in (1, 2):
        name = f"parquet/records_{job}.parquet"
        assert (root / "a" / name).read_bytes() == (root / "b" / name).read_bytes()
        name = f"groups/{job:04d}/clusters_data_{job}.ndjson.gz"
        assert (root / "a" / name).read_bytes() == (root / "b" / name).read_bytes()
    assert pipeline.dataset_digest(root / "a" / "parquet") == pipeline.dataset_digest(root / "b" / "parquet")
    assert a["windows"] == b["windows"] > 0


def test_regrouping_keeps_the_windows_and_sets_stale_files_aside(data) -> None:
    _, output = data
    root = output / "ecal_windows_dataset" / "regroup"

    def window_ids() -> list[str]:
        table = ak.from_parquet(root / "parquet", columns=["window_metadata.window_index"])
        return table.window_metadata.window_index.to_list()

    run({"files_per_group": 1, "output_dir": "regroup"})
    before = window_ids()
    result = run({"files_per_group": 3, "output_dir": "regroup"})
    assert sorted(p.name for p in (root / "parquet").glob("*.parquet")) == ["records_1.parquet", "records_2.parquet"]
    assert sorted(p.name for p in (root / "stale").glob("*.parquet")) == ["records_3.parquet", "records_4.parquet"]
    assert result["files"] == 2
    assert window_ids() == before  # same windows in the same order, whatever the grouping


def test_cli_reports_parameter_errors(data, capsys) -> None:
    assert main(["run", "--param", "input_dir=/etc"]) == 2
    assert "input_dir" in capsys.readouterr().err
