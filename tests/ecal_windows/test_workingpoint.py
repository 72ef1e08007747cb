"""Working-point files: correctionlib JSON (bins, clamp) and the legacy TH2 (spec §4)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from include.core.errors import InputFileError
from include.ecal_windows.workingpoint import (
    RUN3_ET_EDGES,
    RUN3_ETA_EDGES,
    TH2_NAME,
    load_working_point,
    write_correction,
)

TABLE = np.arange(144, dtype=float).reshape(12, 12) / 1000.0  # value = (12 i_et + i_eta) / 1000


@pytest.fixture
def wp_file(tmp_path: Path) -> Path:
    return write_correction(tmp_path / "simfraction_electron_run3_PU65.json", RUN3_ET_EDGES, RUN3_ETA_EDGES, TABLE)


def test_layout_is_c_order_with_et_slow(wp_file: Path) -> None:
    doc = json.loads(wp_file.read_text())
    data = doc["corrections"][0]["data"]
    assert doc["corrections"][0]["name"] == "simfraction_thres"
    assert data["content"][1 * 12 + 3] == TABLE[1, 3] and data["flow"] == "clamp"


def test_bins_include_lower_edge_and_clamp(wp_file: Path) -> None:
    wp = load_working_point(wp_file)
    et = np.array([4.0, 3.999, 0.5, 1000.0, 25.0, 25.0])
    eta = np.array([0.2, 0.1999, 0.0, 3.5, 1.4442, 1.4441])
    assert wp.threshold(et, eta).tolist() == [
        TABLE[1, 1],
        TABLE[0, 0],
        TABLE[0, 0],
        TABLE[11, 11],
        TABLE[4, 7],
        TABLE[4, 6],
    ]


def test_agrees_with_correctionlib(wp_file: Path) -> None:
    pytest.importorskip("correctionlib", reason="correctionlib is not installed")
    from include.ecal_windows.workingpoint import evaluate_with_correctionlib

    rng = np.random.default_rng(1)
    et, eta = rng.uniform(0.0, 700.0, 2000), rng.uniform(0.0, 3.3, 2000)
    et[:13], eta[:13] = np.array(RUN3_ET_EDGES, float), np.array(RUN3_ETA_EDGES, float)
    ours = load_working_point(wp_file).threshold(et, eta)
    assert np.array_equal(ours, evaluate_with_correctionlib(wp_file, et, eta))


def test_malformed_files_name_the_file(tmp_path: Path, wp_file: Path) -> None:
    doc = json.loads(wp_file.read_text())
    doc["corrections"][0]["data"]["content"] = doc["corrections"][0]["data"]["content"][:-1]
    bad = tmp_path / "short.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(InputFileError, match=r"short\.json"):
        load_working_point(bad)
    doc = json.loads(wp_file.read_text())
    doc["corrections"][0]["name"] = "other"
    renamed = tmp_path / "renamed.json"
    renamed.write_text(json.dumps(doc))
    with pytest.raises(InputFileError, match="simfraction_thres"):
        load_working_point(renamed)
    with pytest.raises(InputFileError, match="does not exist"):
        load_working_point(tmp_path / "missing.json")


def test_root_th2_format_clamps_into_the_bins(tmp_path: Path) -> None:
    import uproot

    x_edges = np.array([1.0, 3.0, 6.0, 10.0, 15.0, 20.0, 30.0, 100.0])
    y_edges = np.array([0.0, 1.479, 3.0])
    values = np.arange(14, dtype=float).reshape(7, 2) / 100
    path = tmp_path / "wp_v2.root"
    with uproot.recreate(path) as handle:
        handle[TH2_NAME] = (values, x_edges, y_edges)
    wp = load_working_point(path, "root_th2")
    got = wp.threshold(np.array([0.1, 3.0, 50.0, 1e4]), np.array([0.5, 2.0, 1.479, 9.0]))
    assert got.tolist() == [values[0, 0], values[1, 1], values[6, 1], values[6, 1]]
