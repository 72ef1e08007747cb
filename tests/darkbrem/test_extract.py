"""Native extraction: byte parity with the real tool's output, formats, ordering, errors, streaming."""

from __future__ import annotations

import gzip
import shutil
import tracemalloc
from pathlib import Path

import pytest

from darkbrem.lhe_factory import SPEC_EVENT, SPEC_ROW, header, random_event, to_v4, write_library
from include.core.errors import InputFileError, ParamError
from include.darkbrem import extract as ex
from include.darkbrem.lhe import iter_events

EXCERPT = "ldmx/electron_tungsten_run_1_excerpt"
EXPECTED = "ldmx/expected_excerpt.csv"


def test_real_excerpt_reproduced_byte_for_byte(shared_data: Path, tmp_path: Path) -> None:
    out = ex.extract_library(shared_data / EXCERPT, tmp_path / "lib.csv", 1023)
    assert out.read_bytes() == (shared_data / EXPECTED).read_bytes()


def test_default_output_is_beside_the_directory(shared_data: Path, tmp_path: Path) -> None:
    lib = tmp_path / "electron_tungsten_run_1"
    shutil.copytree(shared_data / EXCERPT, lib)
    out = ex.extract_library(str(lib) + "/", aprime_id=1023)
    assert out == tmp_path / "electron_tungsten_run_1.csv"
    assert out.read_bytes() == (shared_data / EXPECTED).read_bytes()


def test_gzip_output_is_deterministic(shared_data: Path, tmp_path: Path) -> None:
    first = ex.extract_library(shared_data / EXCERPT, tmp_path / "a.csv.gz", 1023)
    second = ex.extract_library(shared_data / EXCERPT, tmp_path / "b.csv.gz", 1023)
    raw = first.read_bytes()
    assert raw == second.read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert raw[3] & 0x08 == 0  # no original file name (gzip -n)
    assert gzip.decompress(raw) == (shared_data / EXPECTED).read_bytes()
    plain = ex.extract_library(shared_data / EXCERPT, tmp_path / "c.csv", 1023)
    assert ex.gzip_file(plain).read_bytes() == raw and not plain.exists()


def test_v1_format_drops_target_z(shared_data: Path, tmp_path: Path) -> None:
    out = ex.extract_library(shared_data / EXCERPT, tmp_path / "v1.csv", 1023, csv_format="v1")
    expected = (shared_data / EXPECTED).read_text().splitlines()
    lines = out.read_text().splitlines()
    assert lines[0] == expected[0].removeprefix("target_Z,")
    assert lines[1:] == [row.split(",", 1)[1] for row in expected[1:]]
    assert all(len(line.split(",")) == 9 for line in lines)


def test_wrong_aprime_id_is_an_error_and_writes_nothing(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ex.NoEventsError, match="no event matches A' id 622"):
        ex.extract(shared_data / EXCERPT, tmp_path / "x.csv", aprime_id=622)
    assert list(tmp_path.iterdir()) == []


def test_no_silent_aprime_default(shared_data: Path) -> None:
    with pytest.raises(ParamError, match="aprime_id"):
        ex.extract_library(shared_data / EXCERPT)


def test_v4_style_library_with_622(shared_data: Path, tmp_path: Path) -> None:
    lib = tmp_path / "v4lib"
    lib.mkdir()
    for path in (shared_data / EXCERPT).iterdir():
        (lib / path.name).write_text(to_v4(path.read_text()))
    assert "1023" not in (lib / path.name).read_text().split("</init>")[1]
    out = ex.extract_library(lib, tmp_path / "v4.csv", 622)
    assert out.read_bytes() == (shared_data / EXPECTED).read_bytes()
    with pytest.raises(ex.NoEventsError):
        ex.extract_library(lib, tmp_path / "v5.csv", 1023)


def test_spec_event_gives_the_first_example_row(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.lhe").write_text(header() + SPEC_EVENT + "</LesHouchesEvents>\n")
    out = ex.extract_library(lib, tmp_path / "a.csv", 1023)
    assert out.read_text().splitlines()[1:] == [SPEC_ROW]


def test_numeric_energy_order_and_file_order_within_a_key(tmp_path: Path) -> None:
    import random

    lib = tmp_path / "lib"
    lib.mkdir()
    rng = random.Random(3)
    # string order would put 10.941 before 9.847; Z 14 must come before Z 74
    (lib / "c_10.941.lhe").write_text(header(74.0) + random_event(rng, 10.941) + "</LesHouchesEvents>\n")
    (lib / "a_9.847.lhe").write_text(header(74.0) + random_event(rng, 9.847) + "</LesHouchesEvents>\n")
    (lib / "b_9.847.lhe").write_text(header(74.0) + random_event(rng, 9.847) + "</LesHouchesEvents>\n")
    (lib / "d_si.lhe.gz").write_bytes(gzip.compress((header(14.0) + random_event(rng, 20.0)).encode()))
    out = ex.extract_library(lib, tmp_path / "o.csv", 1023)
    rows = out.read_text().splitlines()[1:]
    assert [r.split(",")[:2] for r in rows] == [["14", "20"], ["74", "9.847"], ["74", "9.847"], ["74", "10.941"]]
    a = next(iter_events(lib / "a_9.847.lhe", 1023))
    assert rows[1] == ex.format_row(a)  # a_ before b_ (sorted file names)


def test_formatting_is_c_percent_g() -> None:
    assert [ex.fmt_g(v) for v in (8.0, -1.46136e-05, -0.0, 3.82694123, 1e-5, 123456789.0)] == [
        "8",
        "-1.46136e-05",
        "-0",
        "3.82694",
        "1e-05",
        "1.23457e+08",
    ]


def test_non_matching_candidates_are_dropped_and_scanning_continues(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    broken = SPEC_EVENT.replace("       11  1    1    2", "       22  1    1    2")  # recoil is a photon
    (lib / "a.lhe").write_text(header() + broken + SPEC_EVENT + "</LesHouchesEvents>\n")
    rows = ex.extract_library(lib, tmp_path / "a.csv", 1023).read_text().splitlines()[1:]
    assert rows == [SPEC_ROW]


def test_missing_znuc_before_events_is_fatal(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.lhe").write_text("<LesHouchesEvents>\n" + SPEC_EVENT)
    with pytest.raises(InputFileError, match="Did not deduce target Z"):
        ex.extract(lib, tmp_path / "a.csv", aprime_id=1023)
    (lib / "a.lhe").write_text("<LesHouchesEvents>\n   6 abc # Znuc\n" + SPEC_EVENT)
    with pytest.raises(InputFileError, match=r"a\.lhe: Unable to deduce target Z"):
        ex.extract(lib, tmp_path / "a.csv", aprime_id=1023)


def test_znuc_state_resets_per_file(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.lhe").write_text(header() + SPEC_EVENT)
    (lib / "b.lhe").write_text("<LesHouchesEvents>\n" + SPEC_EVENT)
    with pytest.raises(InputFileError, match=r"b\.lhe: Did not deduce target Z"):
        ex.extract(lib, tmp_path / "a.csv", aprime_id=1023)


def test_expected_event_count_is_checked(shared_data: Path, tmp_path: Path) -> None:
    summary = ex.extract(shared_data / EXCERPT, tmp_path / "ok.csv", aprime_id=1023, expected_events=104)
    assert (summary.rows, summary.files, summary.rows_per_energy) == (104, 2, {"3.827": 52, "4.252": 52})
    with pytest.raises(InputFileError, match="extracted 104 events, expected 40000"):
        ex.extract(shared_data / EXCERPT, tmp_path / "bad.csv", aprime_id=1023, expected_events=40000)
    assert not (tmp_path / "bad.csv").exists()


def test_csv_in_the_library_is_merged(shared_data: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(sorted((shared_data / EXCERPT).iterdir())[1], lib)  # the 4.252 GeV file
    rows_3827 = (shared_data / EXPECTED).read_text().splitlines()[:53]
    (lib / "low.csv").write_text("\n".join(rows_3827) + "\n\nignored,after,blank\n")
    out = ex.extract_library(lib, tmp_path / "m.csv", 1023)
    assert out.read_bytes() == (shared_data / EXPECTED).read_bytes()


def test_bad_inputs_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="library directory does not exist"):
        ex.extract(tmp_path / "nope", aprime_id=1023)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no library entries"):
        ex.extract(tmp_path / "empty", aprime_id=1023)
    lib = tmp_path / "gz"
    lib.mkdir()
    (lib / "x.lhe.gz").write_bytes(gzip.compress((header() + SPEC_EVENT).encode())[:-20])
    with pytest.raises(InputFileError, match=r"x\.lhe\.gz: unreadable or truncated"):
        ex.extract(lib, tmp_path / "x.csv", aprime_id=1023)
    with pytest.raises(ParamError, match="csv_format"):
        ex.extract(lib, aprime_id=1023, csv_format="v3")


def test_cli_exit_codes(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.csv"
    assert ex.main([str(shared_data / EXCERPT), "-o", str(out), "--aprime-id", "1023"]) == ex.EXIT_OK
    assert out.read_bytes() == (shared_data / EXPECTED).read_bytes()
    assert ex.main([str(shared_data / EXCERPT), "-o", str(out), "--aprime-id", "622"]) == ex.EXIT_OTHER
    assert "no event matches A' id 622" in capsys.readouterr().err
    assert ex.main([str(shared_data / EXCERPT)]) == ex.EXIT_BAD_CLI  # --aprime-id is required
    missing = tmp_path / "no" / "dir.csv"
    assert ex.main([str(shared_data / EXCERPT), "-o", str(missing), "--aprime-id", "1023"]) == ex.EXIT_BAD_OUTPUT


def _peak_bytes(lib: Path, out: Path) -> int:
    tracemalloc.start()
    try:
        ex.extract(lib, out, aprime_id=1023)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_library_size(tmp_path: Path) -> None:
    small = write_library(tmp_path / "small", [4.0, 3.6], 500)
    large = write_library(tmp_path / "large", [4.0, 3.6], 4000, seed=2)
    peak_small = _peak_bytes(small, tmp_path / "s.csv.gz")
    peak_large = _peak_bytes(large, tmp_path / "l.csv.gz")
    assert sum(p.stat().st_size for p in large.iterdir()) > 7 * sum(p.stat().st_size for p in small.iterdir())
    assert peak_large < 1.5 * peak_small + 64 * 1024, (peak_small, peak_large)
    assert peak_large < 2 * 1024 * 1024
