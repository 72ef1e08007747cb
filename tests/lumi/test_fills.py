"""Fills and beam modes: the derived table and the selection rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from include.core.errors import InputFileError
from include.lumi.config import load_config
from include.lumi.fills import derive_fill_table, fill_record, read_fill_table, select_fills
from include.lumi.logging_csv import variable_block, write_logging_csv

T0 = 1.5e9


def _raw(tmp_path: Path) -> Path:
    """Fill 6000 (SB 600 s), 6001 (SB 200 s), 6002 (no SB), 5999 ongoing-order check, 6003 ongoing."""
    fills = [(6000, 0), (6001, 3000), (6002, 6000), (6003, 9000)]
    blocks = [variable_block("HX:FILLN", np.array([T0 + t for _, t in fills]), [str(f) for f, _ in fills])]
    stable = [(T0 + 1000, "1"), (T0 + 1600, "0"), (T0 + 4000, "1"), (T0 + 4200, "0"), (T0 + 9500, "1")]
    blocks.append(variable_block("HX:BMODE_STABLE", np.array([t for t, _ in stable]), [v for _, v in stable]))
    injphys = [(T0 + 100, "1"), (T0 + 200, "0"), (T0 + 300, "1"), (T0 + 400, "0")]
    blocks.append(variable_block("HX:BMODE_INJPHYS", np.array([t for t, _ in injphys]), [v for _, v in injphys]))
    return write_logging_csv(tmp_path / "raw.csv", blocks)


def test_derive_table(tmp_path: Path) -> None:
    table = derive_fill_table(_raw(tmp_path), query_stop=T0 + 20000, now=T0 + 10000)
    assert table["fill"].tolist() == [6000, 6001, 6002, 6003]
    r = table.loc[6000]
    assert (r.t_startfill, r.t_endfill, bool(r.flag_complete)) == (T0, T0 + 3000, True)
    assert (r.t_start_STABLE, r.t_stop_STABLE) == (T0 + 1000, T0 + 1600)
    # first rising edge, last falling edge
    assert (r.t_start_INJPHYS, r.t_stop_INJPHYS) == (T0 + 100, T0 + 400)
    assert (table.loc[6002].t_start_STABLE, table.loc[6002].t_stop_STABLE) == (-1, -1)
    ongoing = table.loc[6003]
    assert ongoing.t_endfill == T0 + 10000 and not ongoing.flag_complete  # min(now, query stop)
    assert ongoing.t_start_STABLE == T0 + 9500 and ongoing.t_stop_STABLE == -1
    # without an explicit query stop, the window closes with the last logged value
    assert derive_fill_table(_raw(tmp_path), now=T0 + 1e9).loc[6003].t_endfill == T0 + 9500


def test_selection_rules(tmp_path: Path) -> None:
    table = derive_fill_table(_raw(tmp_path), now=T0 + 10000)
    cfg = load_config(2017, {"min_time_SB": 300, "first_fill": 5999, "last_fill": 6001})
    shuffled = table.iloc[::-1]
    chosen = select_fills(shuffled, cfg)
    assert chosen["fill"].tolist() == [6000]  # 6001 too short, 6002 no SB, 6003 ongoing
    assert chosen.iloc[0]["period"] == "A" and chosen.iloc[0]["CrossingAngle_ATLAS"] == pytest.approx(300e-6)
    cfg = load_config(2017, {"min_time_SB": 200, "first_fill": 6000, "last_fill": 6001})
    assert select_fills(shuffled, cfg)["fill"].tolist() == [6000, 6001]  # inclusive bounds, sorted
    assert fill_record(table, 6000, "raw")["t_start_STABLE"] == T0 + 1000
    with pytest.raises(InputFileError, match="fill 7000 is not in"):
        fill_record(table, 7000, "raw")


def test_twin_roundtrip(tmp_path: Path) -> None:
    table = derive_fill_table(_raw(tmp_path), now=T0 + 10000)
    table.to_csv(tmp_path / "twin.csv", index=False)
    back = read_fill_table(tmp_path / "twin.csv")
    pd.testing.assert_series_equal(back["t_stop_STABLE"], table["t_stop_STABLE"], check_names=False)
    (tmp_path / "bad.csv").write_text("fill,t_startfill\n1,2\n")
    with pytest.raises(InputFileError, match="missing columns"):
        read_fill_table(tmp_path / "bad.csv")
