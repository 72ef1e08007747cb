"""The local stand-in of the Mu2e image (``docker/images/mu2e``) and the art job command.

:func:`build_standin_image` makes a SIF from a busybox + host-libraries sandbox
(:mod:`include.apptainer.images`) with ``/usr/local/bin/mu2e`` running
:mod:`include.mu2e.emulator` on this host's Python, bound read-only at run time (the binds are
listed in the sidecar ``<sif>.standin.json``). :func:`mu2e_argv` is the apptainer argv of one art
job: ``mu2e -c mu2e.fcl`` in the job folder.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import include
from include.apptainer.command import Bind, build_command
from include.apptainer.images import (
    add_package_libraries,
    build_image,
    find_busybox,
    make_python_runtime_sandbox,
    python_prefixes,
)
from include.core import atomic
from include.core.errors import ConfigError

IMAGE_NAME = "mu2e-standin.sif"
SIDECAR = ".standin.json"
PACKAGES = ("numpy", "awkward_cpp", "pyarrow", "cramjam", "xxhash", "zstandard", "lz4")


def repo_root() -> Path:
    return Path(include.__file__).resolve().parents[1]


def source_dir() -> Path:
    """``docker/images/mu2e`` of this checkout."""
    return repo_root() / "docker" / "images" / "mu2e"


def _package_libraries(sandbox: Path) -> None:
    """Copy host libraries linked by the packages' extension modules (outside the Python prefixes)."""
    add_package_libraries(sandbox, PACKAGES)


def build_standin_image(dest: str | Path, *, executable: str | None = None) -> Path:
    """Build ``<dest>/mu2e-standin.sif`` and its sidecar; return the SIF path."""
    busybox = find_busybox()
    if busybox is None:
        raise ConfigError("no busybox binary to build the stand-in image (apt-get install busybox-static)")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    sif = dest / IMAGE_NAME
    with tempfile.TemporaryDirectory(prefix="mu2e-standin-", dir="/var/tmp") as tmp:
        sandbox = make_python_runtime_sandbox(Path(tmp) / "sandbox", busybox)
        _package_libraries(sandbox)
        launcher = (source_dir() / "mu2e.in").read_text()
        launcher = launcher.replace("@REPO@", str(repo_root())).replace("@PYTHON@", sys.executable)
        target = sandbox / "usr" / "local" / "bin" / "mu2e"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(launcher)
        target.chmod(0o755)
        build_image(sandbox, sif, executable=executable)
    binds = [str(p) for p in python_prefixes()] + [str(repo_root())]
    atomic.write_json(Path(str(sif) + SIDECAR), {"standin": True, "python": sys.executable, "binds": binds})
    return sif


def image_binds(image: str | Path) -> list[Bind]:
    """Read-only binds a stand-in image needs (from its sidecar); none for a real image."""
    sidecar = Path(str(image) + SIDECAR)
    if not sidecar.is_file():
        return []
    return [Bind(p, p, "ro") for p in json.loads(sidecar.read_text()).get("binds", []) if Path(p).exists()]


def mu2e_argv(image: str | Path, job_dir: str | Path, *, executable: str | None = None) -> list[str]:
    """``apptainer exec … <image> mu2e -c mu2e.fcl`` running in ``job_dir``."""
    job_dir = str(Path(job_dir).resolve())
    binds = [*image_binds(image), Bind(job_dir, job_dir, "rw")]
    return build_command(str(image), ["mu2e", "-c", "mu2e.fcl"], binds=binds, pwd=job_dir, executable=executable)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from include.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m include.mu2e.image", description="Build the stand-in Mu2e SIF.")
    parser.add_argument("dest", nargs="?", type=Path, default=None, help="default: <data root>/mu2e/images")
    args = parser.parse_args(argv)
    sif = build_standin_image(args.dest or load_settings().data_root / "mu2e" / "images")
    print(f"{sif} ({sif.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
