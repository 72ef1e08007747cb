"""Real containers from a locally built busybox image: literal arguments, binds, environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.apptainer.command import build_command
from include.apptainer.runner import CommandFailed, run_command

pytestmark = pytest.mark.apptainer

INJECTIONS = [
    "; rm -rf /data/keep",
    "$(touch /data/pwned1)",
    "`touch /data/pwned2`",
    "&& touch /data/pwned3",
    "| touch /data/pwned4",
    "$HOME ${PATH} ~ * ?",
    "'quoted' \"double\"",
    "line\nbreak",
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "keep").write_text("precious\n")
    return folder


def assert_nothing_executed(data: Path) -> None:
    assert sorted(p.name for p in data.iterdir()) == ["keep"]
    assert (data / "keep").read_text() == "precious\n"


def test_arguments_are_echoed_back_literally(busybox_sif: Path, data: Path) -> None:
    argv = build_command(str(busybox_sif), ["echo", *INJECTIONS], binds=[f"{data}:/data"])
    result = run_command(argv)
    assert "\n".join(line for line in result.tail if not line.startswith("WARNING")) == " ".join(INJECTIONS)
    assert_nothing_executed(data)


def test_arguments_through_a_shell_positional_list(busybox_sif: Path, data: Path) -> None:
    argv = build_command(
        str(busybox_sif), ["sh", "-c", 'for a in "$@"; do echo "<$a>"; done', "sh", *INJECTIONS[:7]], binds=[str(data)]
    )
    result = run_command(argv)
    assert [line for line in result.tail if line.startswith("<")] == [f"<{a}>" for a in INJECTIONS[:7]]
    assert_nothing_executed(data)


ENV_VALUES = {
    "V1": "$(touch /data/pwned-env1)",
    "V2": "`touch /data/pwned-env2`; x",
    "V3": "a,b=c d",
    "V4": "x,LD_PRELOAD=/data/evil.so,PATH=/data",
    "V5": 'say "hi" = "there",',
    "V6": "two\nlines=yes",
    "V7": "comma, only",
}


def test_env_values_arrive_exactly_and_are_not_evaluated(busybox_sif: Path, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    script = "; ".join(f'printf "%s" "${name}" > /out/{name}' for name in ENV_VALUES) + "; env > /out/env"
    argv = build_command(str(busybox_sif), ["sh", "-c", script], binds=[f"{data}:/data", f"{out}:/out"], env=ENV_VALUES)
    run_command(argv)
    assert {name: (out / name).read_text() for name in ENV_VALUES} == ENV_VALUES
    names = {line.split("=", 1)[0] for line in (out / "env").read_text().splitlines() if "=" in line}
    assert "LD_PRELOAD" not in names and "b" not in names
    assert_nothing_executed(data)


def test_without_no_eval_apptainer_would_run_env_values(busybox_sif: Path, data: Path) -> None:
    """Why ``--no-eval`` is always set: apptainer otherwise evaluates ``$(...)`` in --env values."""
    argv = build_command(str(busybox_sif), ["true"], binds=[f"{data}:/data"], env={"V": "$(touch /data/evaluated)"})
    argv.remove("--no-eval")
    run_command(argv)
    assert (data / "evaluated").exists()


def test_bind_read_and_write_back(busybox_sif: Path, tmp_path: Path) -> None:
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    (inputs / "events.txt").write_text("42 events\n")
    argv = build_command(
        str(busybox_sif),
        ["sh", "-c", 'cat /in/events.txt; echo "seen: $(cat /in/events.txt) tag=$TAG" > /out/summary.txt'],
        binds=[f"{inputs}:/in:ro", f"{outputs}:/out"],
        env={"TAG": "v1"},
        pwd="/out",
    )
    result = run_command(argv)
    assert "42 events" in result.tail
    assert (outputs / "summary.txt").read_text() == "seen: 42 events tag=v1\n"


def test_read_only_bind_cannot_be_written(busybox_sif: Path, data: Path) -> None:
    argv = build_command(str(busybox_sif), ["sh", "-c", "echo x > /data/new"], binds=[f"{data}:/data:ro"])
    with pytest.raises(CommandFailed, match="Read-only file system"):
        run_command(argv)
    assert_nothing_executed(data)


def test_cleanenv_and_contain(busybox_sif: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEP_SECRET_FROM_HOST", "leak")
    argv = build_command(str(busybox_sif), ["sh", "-c", "env; pwd"], contain=True, pwd="/tmp")
    result = run_command(argv)
    assert not any("HEP_SECRET_FROM_HOST" in line for line in result.tail)
    assert result.tail[-1] == "/tmp"
