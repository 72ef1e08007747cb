"""The logging-DB CSV layout: variables, time zones, truncation, arrays."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from include.core.errors import InputFileError
from include.lumi.logging_csv import read_logging_csv, require, variable_block, write_logging_csv

SAMPLE = """VARIABLE: LHC.BCTDC.A6R4.B1:BEAM_INTENSITY

Timestamp (UTC_TIME),Value
2017-06-01 12:00:01.923,2.51E14

2017-06-01 12:00:11.000,2.50E14
VARIABLE: LHC.BCTFR.A6R4.B1:BUNCH_INTENSITY

Timestamp (UTC_TIME),Array Values
2017-06-01 12:00:01.000,0.0,1.15E11,1.2E11
VARIABLE: HX:BMODE

Timestamp (LOCAL_TIME),Value
2017-06-01 14:00:00.000,STABLE
2017-01-15 14:00:00.000,SETUP
"""


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_read_sample(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(SAMPLE)
    variables = read_logging_csv(path)
    total = variables["LHC.BCTDC.A6R4.B1:BEAM_INTENSITY"]
    assert total.t.tolist() == [epoch("2017-06-01T12:00:01"), epoch("2017-06-01T12:00:11")]  # truncated
    assert total.scalars().tolist() == [2.51e14, 2.50e14]
    fbct = variables["LHC.BCTFR.A6R4.B1:BUNCH_INTENSITY"]
    assert fbct.matrix(5).tolist() == [[0.0, 1.15e11, 1.2e11, 0.0, 0.0]]
    mode = variables["HX:BMODE"]
    # local time: CEST (UTC+2) in June, CET (UTC+1) in January
    assert mode.t.tolist() == [epoch("2017-06-01T12:00:00"), epoch("2017-01-15T13:00:00")]
    assert mode.strings() == ["STABLE", "SETUP"]


def test_round_trip(tmp_path: Path) -> None:
    t = np.array([1.5e9, 1.5e9 + 60.5])
    path = write_logging_csv(tmp_path / "y.csv", [variable_block("A:B", t, ["1,2", "3,4"], array=True)])
    var = read_logging_csv(path)["A:B"]
    assert var.t.tolist() == [1.5e9, 1.5e9 + 60]
    values, lengths = var.flat()
    assert values.tolist() == [1, 2, 3, 4] and lengths.tolist() == [2, 2]


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"nope\.csv"):
        read_logging_csv(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("2017-06-01 12:00:01,1\n")
    with pytest.raises(InputFileError, match=r"before the first 'VARIABLE:'"):
        read_logging_csv(bad)
    with pytest.raises(InputFileError, match="'X:Y' is missing"):
        require({}, "X:Y", bad)
