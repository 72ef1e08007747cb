"""The vectorized windows agree window by window with the per-event reference on generated files."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from compare import diff
from reference import reference_windows

from include.ecal_windows.config import WindowConfig
from include.ecal_windows.dumper import needed_branches, read_events
from include.ecal_windows.windows import META_COLUMNS, compute_windows

CONFIGS = {
    "default": WindowConfig(),
    "overlap_nocalo4": WindowConfig(overlap=True, maxnocalow=4, random_seed=3),
    "legacy_v2_nocalo15": WindowConfig(seed_gen_check="legacy", window_version="v2", maxnocalow=15),
    "pu_cut": WindowConfig(do_pu_sim=True, pu_limit=0.02, maxnocalow=2, min_et_seed=2.0),
    "overlap_v2_photons": WindowConfig(overlap=True, window_version="v2", flavour=22, maxnocalow=1),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_vectorized_equals_reference(name: str, dumper_file, photon_file, run3_wp) -> None:
    cfg = CONFIGS[name]
    path = photon_file if cfg.flavour == 22 else dumper_file
    events = read_events(path, needed_branches(cfg.assoc_strategy, True))
    result = compute_windows(events, cfg, run3_wp)
    expected, meta = reference_windows(events.to_list(), cfg, run3_wp)
    got = result.records.to_list()
    assert len(got) == len(expected) > 50
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        problem = diff(g, e, f"window {i} ({e['event_id']}:{e['window_index']})")
        assert problem is None, problem
    for col in META_COLUMNS:
        assert result.meta[col].tolist() == [row[col] for row in meta], col
    # the configuration exercised what it was meant to
    n_matched = int(ak.sum(result.records.is_seed_calo_matched))
    assert 0 < n_matched < len(got) or cfg.maxnocalow == 0
    if cfg.overlap:
        assert int(np.sum(result.meta["n_seeds_in_other_window"])) > 0


def test_chunking_does_not_change_windows(dumper_file, run3_wp) -> None:
    cfg = CONFIGS["overlap_nocalo4"]
    branches = needed_branches()
    whole = compute_windows(read_events(dumper_file, branches), cfg, run3_wp).records.to_list()
    parts = []
    for start in range(0, 400, 130):
        parts += compute_windows(
            read_events(dumper_file, branches, start, min(400, start + 130)), cfg, run3_wp
        ).records.to_list()
    assert diff(whole, parts) is None
