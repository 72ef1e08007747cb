"""The same fill on the condor backend and locally gives the same products (needs the pool)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from include.core.backends import TaskCall, run_call

POOL_CONFIG = (
    Path(os.environ.get("CONDOR_POOL_DIR", "/var/lib/hep-productions/condor-pool")) / "client" / "condor_config"
)
CONFIG = {"year": 2017, "doSBPlots": False, "doCyclePlots": False}


@pytest.mark.condor
def test_condor_and_local_agree(lumi_roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    if not os.environ.get("CONDOR_CONFIG"):
        if not POOL_CONFIG.is_file():
            pytest.skip(f"no HTCondor pool client config at {POOL_CONFIG} (start docker/condor pool)")
        monkeypatch.setenv("CONDOR_CONFIG", str(POOL_CONFIG))
    from include.condor.hook import CondorError

    _, out = lumi_roots
    local_out = out / "local"
    local_out.mkdir()
    call = TaskCall("include.lumi.tasks:process_fill", {"fill": 6140, "config": CONFIG})
    try:
        remote = run_call(call, "condor", timeout=600)
    except CondorError as exc:
        pytest.skip(f"HTCondor pool not reachable: {exc}")
    assert remote["ok"] and "massi" in remote["ran"]
    local = run_call(
        TaskCall("include.lumi.tasks:process_fill", {**call.kwargs, "output_root": str(local_out)}), "local"
    )
    assert local["ok"]
    for name in ("sb", "lumi_calc", "lumi_meas", "lifetime", "fits"):
        a = pd.read_parquet(out / "lumi_followup" / "fill_6140" / f"fill_6140_{name}.parquet")
        b = pd.read_parquet(local_out / "lumi_followup" / "fill_6140" / f"fill_6140_{name}.parquet")
        pd.testing.assert_frame_equal(a, b)
