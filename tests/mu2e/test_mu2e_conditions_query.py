"""Conditions query (dbTool, a stand-in for the unreachable Fermilab database) and pinning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from include.core.errors import ConfigError, InputFileError, ParamError
from include.mu2e import conditions
from include.mu2e.demo_dbtool import ROWS, calls, write_dbtool
from include.mu2e.normalizations import Normalization, NormParams


def test_query_command_is_the_legacy_argv():
    assert conditions.query_command("MDC2020_best", "v1_1", 1200) == [
        "dbTool",
        "print-run",
        "--purpose",
        "MDC2020_best",
        "--version",
        "v1_1",
        "--run",
        "1200",
        "--table",
        "SimEfficiencies2",
        "--content",
    ]


@pytest.mark.parametrize(
    ("purpose", "version", "run", "param"),
    [
        ("Sim_best; rm -rf ~", "v1_1", 1430, "purpose"),
        ("Sim_best", "$(id)", 1430, "version"),
        ("Sim_best", "v1", 0, "run"),
    ],
)
def test_query_command_rejects_bad_values(purpose, version, run, param):
    with pytest.raises(ParamError, match=f"'{param}'"):
        conditions.query_command(purpose, version, run)


def test_query_runs_dbtool_and_parses_its_rows(tmp_path: Path):
    tool = write_dbtool(tmp_path / "bin")
    rows, raw, argv = conditions.query_rows("Sim_best", "v1_1", 1430, dbtool=str(tool))
    assert raw.startswith("TABLE SimEfficiencies2\n")
    assert {tag: (r.numerator, r.denominator, r.eff) for tag, r in rows.items()} == {
        tag: tuple(map(float, values)) for tag, values in ROWS.items()
    }
    assert calls(tmp_path / "bin") == [argv[1:]]
    rates = conditions.stop_rates(rows)
    assert rates.target_mu_stops_per_pot == pytest.approx(0.00432 * 3.6111e-4 * 1000)
    assert rates.ipa_mu_stops_per_pot == pytest.approx(0.00432 * 2.05e-5)


def test_the_demo_writes_a_labelled_stand_in_that_answers_the_query(
    mu2e_demo_master: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    from include.mu2e import demo
    from include.mu2e.demo_dbtool import DEMO_PATH, MARKER, is_demo_dbtool

    tool = mu2e_demo_master / DEMO_PATH
    assert tool.is_file() and demo.missing(mu2e_demo_master) == []
    assert MARKER in tool.read_text().splitlines()[1] and is_demo_dbtool(tool)
    with caplog.at_level("WARNING", logger="include.mu2e.conditions"):
        rows, _, argv = conditions.query_rows("Sim_best", "v1_1", 1430, dbtool=str(tool))
    assert argv[0] == str(tool)
    assert {tag: (r.numerator, r.denominator, r.eff) for tag, r in rows.items()} == {
        tag: tuple(map(float, values)) for tag, values in ROWS.items()
    }
    assert f"demo stand-in dbTool {tool} answers this query" in caplog.text
    assert not (tool.parent / "calls.jsonl").exists()  # the demo's copy writes nothing into the data root
    # a real tool is not labelled
    real = tmp_path / "dbTool"
    real.write_text("#!/bin/sh\necho 'TABLE SimEfficiencies2'\necho 'MuBeamCat,0,0,0.1'\n")
    real.chmod(0o755)
    caplog.clear()
    with caplog.at_level("WARNING", logger="include.mu2e.conditions"):
        conditions.query_rows("Sim_best", "v1_1", 1430, dbtool=str(real))
    assert not is_demo_dbtool(real) and "demo stand-in" not in caplog.text
    # an older demo folder without the tool is generated again
    assert demo.missing(tmp_path) == [tmp_path / DEMO_PATH]


def test_failed_query_says_why_and_missing_tool_is_a_config_error(tmp_path: Path):
    tool = write_dbtool(tmp_path / "bin", exit_code=3)
    with pytest.raises(conditions.QueryError, match=r"exit 3.*connection refused"):
        conditions.query_rows("Sim_best", "v1_1", 1430, dbtool=str(tool))
    with pytest.raises(ConfigError, match=r"No such file.*HEP_MU2E_DBTOOL"):
        conditions.query_rows("Sim_best", "v1_1", 1430, dbtool=str(tmp_path / "nowhere" / "dbTool"))
    empty = write_dbtool(tmp_path / "empty", rows={})
    with pytest.raises(InputFileError, match="no SimEfficiencies2 rows"):
        conditions.query_rows("Sim_best", "v1_1", 1430, dbtool=str(empty))


def test_pinned_sets_live_in_the_site_file_first(roots: tuple[Path, Path], tmp_path: Path):
    rows, _, _ = conditions.query_rows("Sim_best", "v1_1", 1430, dbtool=str(write_dbtool(tmp_path / "bin")))
    path = conditions.pin(rows, "MDC2025-1430", purpose="Sim_best", version="v1_1", run=1430)
    assert path == roots[0] / "mu2e" / "conditions.yaml"
    assert conditions.known_sets() == {"MDC2025-1430": path, "spec-example": conditions.CONFIG_FILE}
    again, meta = conditions.pinned("MDC2025-1430")
    assert again == rows and (meta["purpose"], meta["run"]) == ("Sim_best", 1430)
    norm = Normalization(NormParams(livetime_s=3600, conditions="MDC2025-1430"))
    assert norm.rates.ipa_mu_stops_per_pot == pytest.approx(0.00432 * 2.05e-5)
    assert norm.yield_of("IPAMichel").mean > 0
    before = path.read_bytes()
    for key in ("MDC2025-1430", "spec-example"):  # neither a site nor a shipped key is ever redefined
        with pytest.raises(ConfigError, match="already pinned"):
            conditions.pin(rows, key, purpose="Sim_best", version="v1_1", run=1200)
    with pytest.raises(ParamError, match="'key'"):
        conditions.pin(rows, "../x", purpose="Sim_best", version="v1_1", run=1430)
    assert path.read_bytes() == before
    with pytest.raises(ParamError, match="not a pinned conditions set; known: MDC2025-1430, spec-example"):
        conditions.pinned("MDC2025-9999")


def test_unusable_rows_pin_nothing_and_a_retried_pin_is_a_no_op(roots: tuple[Path, Path]):
    rows = {tag: conditions.Row(*map(float, v)) for tag, v in ROWS.items()}
    site = roots[0] / "mu2e" / "conditions.yaml"
    broken = [
        {**rows, "MuBeamCat": conditions.Row(0, 0, float("nan"))},
        {**rows, "PhysicalPionStops": conditions.Row(1e10, 0, 1.0)},
        {**rows, "PiMinusFilter": conditions.Row(-1, 41324703, 0.16)},
    ]
    for bad in broken:
        with pytest.raises(ConfigError):
            conditions.pin(bad, "bad", purpose="Sim_best", version="v1_1", run=1430)
    with pytest.raises(ParamError, match="'version'"):
        conditions.pin(rows, "bad", purpose="Sim_best", version="$(id)", run=1430)
    assert not site.exists()
    path = conditions.pin(rows, "good", purpose="Sim_best", version="v1_1", run=1430)
    before = path.read_bytes()
    assert conditions.pin(rows, "good", purpose="Sim_best", version="v1_1", run=1430) == path
    assert path.read_bytes() == before
    with pytest.raises(ConfigError, match="already pinned"):
        conditions.pin(rows, "good", purpose="Sim_best", version="v1_1", run=1200)


def test_site_file_problems_name_the_file_and_set(roots: tuple[Path, Path]):
    site = roots[0] / "mu2e" / "conditions.yaml"
    site.parent.mkdir(parents=True)
    cases = {
        "": "not a conditions config",
        "sets: [1, 2]\n": "not a conditions config",
        "sets:\n  x: {purpose: Sim_best}\n": "set 'x': 'rows' must map",
        "sets:\n  x: {rows: {MuBeamCat: [0, 0]}}\n": "set 'x': 'rows' must map",
        "sets: {x: [\n": "unreadable conditions config",
    }
    for text, message in cases.items():
        site.write_text(text)
        with pytest.raises(InputFileError, match=message) as caught:
            conditions.pinned("spec-example")
        assert str(site) in str(caught.value)
    site.write_text("sets:\n  spec-example: {rows: {MuBeamCat: [0, 0, 1.0]}}\n")
    with pytest.raises(ConfigError, match="'spec-example' is defined in both"):
        conditions.pinned("spec-example")


def test_dbtool_output_is_parsed_strictly():
    text = "TABLE SimEfficiencies2\n# c\nTableStops,1,2,0.5\nMuBeamCat,0,0,0.1\n"
    assert set(conditions.rows_from_dbtool(text)) == {"TableStops", "MuBeamCat"}
    with pytest.raises(InputFileError, match=r"line 4 'MuBeamCat,0,0,0\.2': tag 'MuBeamCat' appears twice"):
        conditions.rows_from_dbtool("TABLE SimEfficiencies2\n\nMuBeamCat,0,0,0.1\nMuBeamCat,0,0,0.2\n")
    with pytest.raises(InputFileError, match="line 2 'MuBeamCat,0,0': expected"):
        conditions.rows_from_dbtool("TABLE SimEfficiencies2\nMuBeamCat,0,0\n")


def test_a_tool_that_cannot_run_is_a_config_error(tmp_path: Path):
    tool = write_dbtool(tmp_path / "bin")
    tool.chmod(0o644)
    with pytest.raises(ConfigError, match=r"cannot run .*Permission denied"):
        conditions.query_rows("Sim_best", "v1_1", 1430, dbtool=str(tool))


def test_cli_queries_and_pins(roots: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HEP_MU2E_DBTOOL", str(write_dbtool(tmp_path / "bin")))
    command = [sys.executable, "-m", "include.mu2e.conditions", "--key", "cli-set", "--run", "1200"]
    proc = subprocess.run(command, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "pinned cli-set" in proc.stdout
    assert calls(tmp_path / "bin")[0][6] == "1200"
    assert conditions.pinned("cli-set")[1]["run"] == 1200
    again = subprocess.run([*command[:-1], "1430"], capture_output=True, text=True)
    assert again.returncode == 2 and "already pinned" in again.stderr


def test_campaign_form_names_a_pinned_set(mu2e_data: Path):
    from include.mu2e import pipeline

    with pytest.raises(ParamError, match="'nope' is not a pinned conditions set; known: spec-example"):
        pipeline.validate_params({"conditions": "nope"})
    assert pipeline.validate_params({"conditions": "spec-example"})["spec"]["norm"]["conditions"] == "spec-example"
