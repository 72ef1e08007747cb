"""Paths from parameters stay inside the roots; names are plain; shell syntax is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.core.errors import ParamError
from include.core.paths import reject_shell_metacharacters, resolve_inside, safe_name, unit_dir


def test_relative_path_resolves_under_first_root(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    assert resolve_inside("in", [tmp_path], "input_dir", must_exist=True) == tmp_path / "in"


@pytest.mark.parametrize("value", ["../etc/passwd", "/etc/passwd", "a/../../b"])
def test_escape_is_refused_with_the_parameter_name(tmp_path: Path, value: str) -> None:
    with pytest.raises(ParamError, match=r"parameter 'input_dir': .* outside the allowed roots"):
        resolve_inside(value, [tmp_path], "input_dir")


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to("/etc")
    with pytest.raises(ParamError, match="outside"):
        resolve_inside("link/hosts", [root], "input_dir")


def test_second_root_is_allowed_and_missing_is_reported(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    assert resolve_inside(out / "x", [data, out], "output_dir") == out / "x"
    with pytest.raises(ParamError, match="does not exist"):
        resolve_inside(out / "x", [data, out], "output_dir", must_exist=True)


@pytest.mark.parametrize("value", ["x; rm -rf /", "$(id)", "`id`", "a|b", "a&&b", "a > b", "tag\nnext"])
def test_shell_metacharacters_are_refused(value: str) -> None:
    with pytest.raises(ParamError, match="shell metacharacter"):
        reject_shell_metacharacters(value, "tag")


@pytest.mark.parametrize("value", ["", ".hidden", "a/b", "x" * 129, "fill 6000", "a;b"])
def test_unsafe_names_are_refused(value: str) -> None:
    with pytest.raises(ParamError, match="not a plain name"):
        safe_name(value, "tag")


def test_unit_dir_layout(tmp_path: Path) -> None:
    assert unit_dir(tmp_path, "lumi_followup", "fill_6016") == tmp_path / "lumi_followup" / "fill_6016"
    with pytest.raises(ParamError, match="'unit'"):
        unit_dir(tmp_path, "lumi_followup", "../x")
