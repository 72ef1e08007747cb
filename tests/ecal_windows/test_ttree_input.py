"""Real ROOT TTree dumper files, as the CMS dumper writes them, against the same events as RNTuple.

The TTree is written with ROOT itself (the ``root`` wheel of requirements-test.txt, installed by
scripts/install.sh); uproot reads it through the TTree path (vector<vector<...>> as objects), which
the RNTuple files never exercise.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import awkward as ak
import pytest
import uproot

from include.ecal_windows import TREE_PATH
from include.ecal_windows.__main__ import run
from include.ecal_windows.generator import generate_dataset, generate_events, write_dumper_file
from include.ecal_windows.ttree_writer import root_available

pytestmark = pytest.mark.skipif(
    not root_available(), reason="ROOT is not installed (pip install -r requirements-test.txt -c constraints-3.11.txt)"
)

# The dumper's C++ types (spec: ECAL windows, input branches), as uproot names them.
DUMPER_TYPES = {
    "eventId": "int64_t",
    "runId": "int32_t",
    "rho": "float",
    "pfCluster_rawEnergy": "std::vector<float>",
    "pfCluster_nXtals": "std::vector<double>",
    "pfCluster_ieta": "std::vector<int32_t>",
    "pfCluster_sim_fraction": "std::vector<std::vector<double>>",
    "pfCluster_simEnergy_sharedXtals": "std::vector<std::vector<double>>",
    "pfClusterHit_rechitEnergy": "std::vector<std::vector<float>>",
    "pfClusterHit_fraction": "std::vector<std::vector<float>>",
    "pfClusterHit_ieta": "std::vector<std::vector<int32_t>>",
    "pfClusterHit_iz": "std::vector<std::vector<int32_t>>",
    "superCluster_seedIndex": "std::vector<int32_t>",
    "superCluster_pfClustersIndex": "std::vector<std::vector<int32_t>>",
}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same 300 events (with pileup) as a TTree file and as an RNTuple file."""
    folder = tmp_path_factory.mktemp("ttree")
    branches = generate_events(300, seed=21, flavour=11, pileup=10.0)
    ttree = write_dumper_file(folder / "ttree.root", branches, "ttree")
    rntuple = write_dumper_file(folder / "rntuple.root", branches, "rntuple")
    return ttree, rntuple


def test_the_file_is_a_ttree_with_the_dumpers_branch_types(pair: tuple[Path, Path]) -> None:
    assert "ROOT" not in sys.modules  # ROOT ran in a child process (see ttree_writer)
    with uproot.open(pair[0]) as handle:
        tree = handle[TREE_PATH]
        assert isinstance(tree, uproot.TTree) and tree.num_entries == 300
        assert {name: tree[name].typename for name in DUMPER_TYPES} == DUMPER_TYPES
    with uproot.open(pair[1]) as handle:
        assert not isinstance(handle[TREE_PATH], uproot.TTree)  # the other one is the RNTuple


def test_every_branch_reads_back_as_from_the_rntuple(pair: tuple[Path, Path]) -> None:
    with uproot.open(pair[0]) as t, uproot.open(pair[1]) as r:
        ttree, rntuple = t[TREE_PATH].arrays(library="ak"), r[TREE_PATH].arrays(library="ak")
    assert sorted(ttree.fields) == sorted(rntuple.fields) and len(ttree.fields) == 55
    for name in ttree.fields:
        assert str(ttree[name].type) == str(rntuple[name].type), name
        assert ak.to_list(ttree[name]) == ak.to_list(rntuple[name]), name
    assert ak.sum(ak.num(ak.flatten(ttree["pfClusterHit_rechitEnergy"]))) > 1000  # real nested content


def test_a_file_cut_short_is_refused_naming_it(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    from include.ecal_windows.dumper import check_input, needed_branches

    cut = tmp_path / "cut.root"
    cut.write_bytes(pair[0].read_bytes()[: pair[0].stat().st_size // 2])
    check = check_input(cut, needed_branches())
    assert not check.ok and check.problem
    assert check_input(pair[0], needed_branches()).ok


def test_windows_from_ttree_and_rntuple_inputs_are_identical(roots: tuple[Path, Path]) -> None:
    """The production chain on each format (4 files, 2 groups): the same windows, the same dataset."""
    data_root, output = roots
    for fmt in ("ttree", "rntuple"):
        generate_dataset(data_root / "ecal_windows" / fmt, 4, 120, seed=8, flavour=11, tree_format=fmt)
    results = {}
    for fmt in ("ttree", "rntuple"):
        folder = f"ecal_windows/{fmt}"
        params = {"input_dir": folder, "wp_file": f"{folder}/simfraction_electron_run3_PU65.json"}
        results[fmt] = run({**params, "output_dir": fmt, "files_per_group": 2, "overlap": True})
    assert results["ttree"]["bad_inputs"] == results["rntuple"]["bad_inputs"] == []
    assert results["ttree"]["windows"] == results["rntuple"]["windows"] > 100
    base = output / "ecal_windows_dataset"
    for job in (1, 2):
        ndjson = f"groups/{job:04d}/clusters_data_{job}.ndjson.gz"
        windows = gzip.decompress((base / "ttree" / ndjson).read_bytes())
        assert windows == gzip.decompress((base / "rntuple" / ndjson).read_bytes())
        assert windows.count(b"\n") > 50
        meta = f"groups/{job:04d}/clusters_data_{job}.meta.csv"
        assert (base / "ttree" / meta).read_text() == (base / "rntuple" / meta).read_text()
        parquet = f"parquet/records_{job}.parquet"
        assert (base / "ttree" / parquet).read_bytes() == (base / "rntuple" / parquet).read_bytes()
