"""Offline tests of the submit-description builders."""

from __future__ import annotations

import pytest

from include.condor.submit import (
    JobSpec,
    batch_name,
    build_submit,
    cluster_template,
    format_arguments,
    format_environment,
    items_for_argvs,
    quote_argument,
)
from include.core.errors import ParamError


def test_arguments_use_new_syntax_and_escape_everything() -> None:
    argv = ["plain", "a b", "; rm -rf /", "$(whoami)", "it's", 'say "hi"', ""]
    assert format_arguments(argv) == ("\"plain 'a b' '; rm -rf /' $(DOLLAR)(whoami) 'it''s' 'say \"\"hi\"\"' ''\"")


@pytest.mark.parametrize("bad", ["a\nb", "x\x00", "$$(Memory)"])
def test_unpassable_arguments_are_rejected(bad: str) -> None:
    with pytest.raises(ParamError, match="arguments"):
        quote_argument(bad)


def test_a_string_is_not_an_argv() -> None:
    with pytest.raises(ParamError, match="list of arguments"):
        format_arguments("echo hi; rm -rf /")  # type: ignore[arg-type]


def test_batch_name_is_deterministic_and_safe() -> None:
    a = batch_name("dag", "task", "manual__2026-11-21T10:00:00+00:00", 3, try_number=2)
    assert a == batch_name("dag", "task", "manual__2026-11-21T10:00:00+00:00", 3, try_number=2)
    assert a.endswith(".m3." + a.split(".m3.")[1]) and a.endswith(".t2")
    assert all(c.isalnum() or c in "._-" for c in a)
    assert a != batch_name("dag", "task", "manual__2026-11-21T10:00:00+00:00", 4, try_number=2)
    # distinct ids that sanitize to the same text still differ
    assert batch_name("d", "t", "r:1") != batch_name("d", "t", "r_1")


def test_vanilla_description_with_file_transfer(tmp_path) -> None:
    spec = JobSpec(
        executable="/usr/bin/python3",
        arguments=["-c", "print(1)"],
        request_memory_mb=2000,
        environment={"A": "1", "B": "x y"},
        input_files=["in.txt"],
        output_files=["out.txt"],
        extra={"periodic_hold": "False"},
    )
    desc = build_submit(spec, workdir=tmp_path, batch="b1")
    assert desc["universe"] == "vanilla"
    assert desc["arguments"] == '"-c print(1)"'
    assert desc["should_transfer_files"] == "YES"
    assert desc["transfer_input_files"] == "in.txt"
    assert desc["transfer_output_files"] == "out.txt"
    assert desc["request_memory"] == "2000MB"
    assert desc["batch_name"] == "b1"
    assert desc["environment"] == "\"A=1 'B=x y'\""
    assert desc["initialdir"] == str(tmp_path)
    assert desc["periodic_hold"] == "False"
    assert "container_image" not in desc


def test_shared_fs_and_container_universe(tmp_path) -> None:
    shared = build_submit(JobSpec(executable="/bin/true", shared_fs=True), workdir=tmp_path, batch="b")
    assert shared["should_transfer_files"] == "NO"
    cont = build_submit(
        JobSpec(executable="/bin/sh", container_image="/x/busybox.sif", shared_fs=True), workdir=tmp_path, batch="b"
    )
    assert cont["universe"] == "container"
    assert cont["container_image"] == "/x/busybox.sif"
    assert cont["should_transfer_files"] == "YES"  # container jobs always transfer


def test_reserved_commands_and_bad_names_are_rejected(tmp_path) -> None:
    with pytest.raises(ParamError, match="queue"):
        build_submit(JobSpec(executable="/bin/true", extra={"queue": "5"}), workdir=tmp_path, batch="b")
    with pytest.raises(ParamError, match="input_files"):
        build_submit(JobSpec(executable="/bin/true", input_files=["a,b"]), workdir=tmp_path, batch="b")
    with pytest.raises(ParamError, match="environment"):
        format_environment({"A B": "1"})


def test_cluster_template_with_itemdata(tmp_path) -> None:
    desc = cluster_template(build_submit(JobSpec(executable="/bin/echo"), workdir=tmp_path, batch="b"))
    assert desc["arguments"] == "$(hep_args)"
    items = items_for_argvs([["a"], ["b c"]], [{"unit": "u0"}, {"unit": "u1"}])
    assert items == [{"hep_args": '"a"', "unit": "u0"}, {"hep_args": "\"'b c'\"", "unit": "u1"}]
    with pytest.raises(ParamError):
        items_for_argvs([["a"]], [{"bad name": "x"}])
