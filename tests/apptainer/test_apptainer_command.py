"""The argv builder: structure, validation, and runtime discovery (no container runs here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from include.apptainer.command import Bind, build_command, find_apptainer, parse_bind, parse_binds
from include.core.errors import ConfigError, ParamError

INJECTIONS = ["; rm -rf /", "$(touch /tmp/pwned)", "`id`", "a && b", "x | y", "$HOME", "'\"", "-rf"]


@pytest.fixture
def image(tmp_path: Path) -> str:
    path = tmp_path / "img.sif"
    path.write_bytes(b"SIF")
    return str(path)


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only fake ``apptainer`` and ``singularity`` executables."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("apptainer", "singularity"):
        exe = bindir / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.delenv("HEP_APPTAINER_BIN", raising=False)
    return bindir


def test_default_flags_and_order(fake_bin: Path, image: str, tmp_path: Path) -> None:
    argv = build_command(image, ["echo", "hi"], binds=[f"{tmp_path}:/data:ro"], env={"A": "1"}, pwd="/data")
    assert argv == [
        str(fake_bin / "apptainer"),
        "exec",
        "--no-home",
        "--cleanenv",
        "--no-eval",
        "--bind",
        f"{tmp_path}:/data:ro",
        "--env",
        "A=1",
        "--pwd",
        "/data",
        image,
        "echo",
        "hi",
    ]


def test_injection_strings_stay_single_literal_arguments(fake_bin: Path, image: str) -> None:
    argv = build_command(image, ["echo", *INJECTIONS], env={"V": INJECTIONS[1]})
    assert argv[-len(INJECTIONS) :] == INJECTIONS
    assert f"V={INJECTIONS[1]}" in argv
    assert "--no-eval" in argv  # without it apptainer shell-evaluates --env values


def test_prefers_apptainer_then_singularity(fake_bin: Path, image: str) -> None:
    assert find_apptainer() == str(fake_bin / "apptainer")
    (fake_bin / "apptainer").unlink()
    assert find_apptainer() == str(fake_bin / "singularity")
    assert build_command(image, ["true"])[0] == str(fake_bin / "singularity")
    (fake_bin / "singularity").unlink()
    with pytest.raises(ConfigError, match="neither apptainer nor singularity"):
        find_apptainer()


def test_hep_apptainer_bin_and_explicit_executable(fake_bin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEP_APPTAINER_BIN", "/opt/site/apptainer")
    assert find_apptainer() == "/opt/site/apptainer"
    assert find_apptainer("singularity") == str(fake_bin / "singularity")
    with pytest.raises(ConfigError, match="not found"):
        find_apptainer("no-such-runtime")


def test_actions(fake_bin: Path, image: str) -> None:
    assert build_command(image, ["a", "b"], action="run")[-3:] == [image, "a", "b"]
    assert build_command(image, action="run")[-1] == image
    assert build_command(image, action="shell")[1] == "shell"
    with pytest.raises(ParamError, match="needs a command"):
        build_command(image, [])
    with pytest.raises(ParamError, match="takes no command"):
        build_command(image, ["ls"], action="shell")
    with pytest.raises(ParamError, match="not one of"):
        build_command(image, ["ls"], action="instance")


def test_command_must_be_a_list_of_strings(fake_bin: Path, image: str) -> None:
    with pytest.raises(ParamError, match="not a shell string"):
        build_command(image, "echo hi; rm -rf /")  # type: ignore[arg-type]
    with pytest.raises(ParamError, match="not a string"):
        build_command(image, ["echo", 3])  # type: ignore[list-item]
    with pytest.raises(ParamError, match="NUL"):
        build_command(image, ["echo", "a\x00b"])


def test_toggles_contain_and_extra_flags(fake_bin: Path, image: str) -> None:
    argv = build_command(
        image,
        ["true"],
        cleanenv=False,
        no_home=False,
        contain=True,
        extra_flags=["-s", "--writable-tmpfs", "--hostname=node1", "--contain"],
    )
    assert argv[:3] == [str(fake_bin / "apptainer"), "-s", "exec"]
    assert "--cleanenv" not in argv and "--no-home" not in argv
    assert argv.count("--contain") == 1
    assert "--writable-tmpfs" in argv and "--hostname=node1" in argv


@pytest.mark.parametrize(
    "flag",
    ["--bind=/etc:/x", "--env=A=1", "-B", "--hostname=a;b", "--workdir=relative", "--security=allow", "--fakeroot x"],
)
def test_flags_outside_the_allow_list_are_rejected(fake_bin: Path, image: str, flag: str) -> None:
    with pytest.raises(ParamError, match="extra_flags"):
        build_command(image, ["true"], extra_flags=[flag])


def test_bind_parsing(tmp_path: Path) -> None:
    src = str(tmp_path)
    assert parse_bind(src) == Bind(src, src, "rw")
    assert parse_bind(f"{src}:/data") == Bind(src, "/data", "rw")
    assert parse_bind(f"{src}:/data:ro").spec() == f"{src}:/data:ro"
    assert parse_bind((src, "/d", "ro")) == Bind(src, "/d", "ro")
    assert parse_bind(f"{src}//:/data/") == Bind(src, "/data", "rw")
    assert parse_binds({src: "/m"}) == [Bind(src, "/m", "rw")]
    assert parse_binds(None) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("relative/dir:/data", "absolute"),
        ("/definitely/not/here:/data", "does not exist"),
        ("{tmp}:/data:ro:extra", "too many"),
        ("{tmp}:/data:rx", "mode"),
        ("{tmp}:data", "absolute"),
        ("{tmp}:/a,/etc:/b", "','"),
        ("{tmp}:/data/../etc", "'..'"),
        ("{tmp}/..:/data", "'..'"),
        ("", "empty"),
    ],
)
def test_bad_binds_are_rejected(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(ParamError, match=message):
        parse_bind(spec.format(tmp=tmp_path))


def test_bind_source_with_colon_cannot_be_expressed(tmp_path: Path) -> None:
    odd = tmp_path / "a:b"
    odd.mkdir()
    with pytest.raises(ParamError):
        parse_bind((str(odd), "/data"))
    with pytest.raises(ParamError):
        parse_binds(str(tmp_path))  # one string instead of a list


@pytest.mark.parametrize("name", ["A B", "1X", "X;rm -rf /", "$(id)", "A=B", "", "X-Y"])
def test_bad_env_names_are_rejected(fake_bin: Path, image: str, name: str) -> None:
    with pytest.raises(ParamError, match="environment variable name"):
        build_command(image, ["true"], env={name: "v"})


def test_env_values_are_encoded_for_apptainer(fake_bin: Path, image: str) -> None:
    argv = build_command(image, ["true"], env={"N": 3, "C": "a,b", "S": 'x,LD_PRELOAD=/e.so "q"\nz'})
    assert argv[argv.index("N=3") - 1] == "--env"
    assert "C=a,b" in argv  # one '=': taken as is
    assert '"S=x,LD_PRELOAD=/e.so ""q""\nz"' in argv  # several '=': one quoted CSV field


@pytest.mark.parametrize("value", ['ends with "', "carriage\rreturn", "nul\x00"])
def test_env_values_apptainer_cannot_carry_are_rejected(fake_bin: Path, image: str, value: str) -> None:
    with pytest.raises(ParamError, match="env"):
        build_command(image, ["true"], env={"V": value})


@pytest.mark.parametrize("bad", ["", "-x", "relative.sif", "/no/such/image.sif", "ftp://host/x", "docker://"])
def test_bad_images_are_rejected(fake_bin: Path, bad: str) -> None:
    with pytest.raises(ParamError, match="image"):
        build_command(bad, ["true"])


def test_image_uris_pass_through(fake_bin: Path) -> None:
    assert build_command("docker://busybox:1.36", ["true"])[-2] == "docker://busybox:1.36"


def test_pwd_must_be_absolute(fake_bin: Path, image: str) -> None:
    with pytest.raises(ParamError, match="pwd"):
        build_command(image, ["true"], pwd="work")


def test_no_shell_is_involved(fake_bin: Path, image: str) -> None:
    argv = build_command(image, ["echo", "x"])
    assert not any(arg in ("sh", "bash", "-c") for arg in argv[:-2])
    assert os.path.basename(argv[0]) == "apptainer"
