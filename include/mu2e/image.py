"""The local stand-in of the Mu2e image (``docker/images/mu2e``) and the art job command.

:func:`build_standin_image` makes a SIF whose ``/usr/local/bin/mu2e`` runs
:mod:`include.mu2e.emulator`, in one of two kinds:

* bound (default): a busybox + host-libraries sandbox (:mod:`include.apptainer.images`) running
  this host's Python, bound read-only at run time (the binds are listed in the sidecar
  ``<sif>.standin.json``);
* self-contained: the interpreter, the modules the emulator loads and ``include`` copied into the
  image, so it needs no bind and runs in HTCondor's container universe like a real Mu2e image.

:func:`mu2e_argv` is the apptainer argv of one art job: ``mu2e -c mu2e.fcl`` in the job folder.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import include
from include.apptainer.command import Bind, build_command
from include.apptainer.images import (
    SANDBOX_SITE,
    add_package_libraries,
    build_image,
    find_busybox,
    make_python_runtime_sandbox,
    make_self_contained_python_sandbox,
    python_prefixes,
)
from include.core import atomic
from include.core.errors import ConfigError
from include.mu2e.form import ART_IMAGE_NAME

IMAGE_NAME = ART_IMAGE_NAME
SELF_CONTAINED_NAME = "mu2e-standin-selfcontained.sif"
OPTIONAL_MODULES = ("pyarrow",)
"""Left out of the self-contained image: awkward imports pyarrow only when it is installed."""
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


def build_standin_image(dest: str | Path, *, executable: str | None = None, self_contained: bool = False) -> Path:
    """Build ``<dest>/mu2e-standin.sif`` (or ``mu2e-standin-selfcontained.sif``) and its sidecar."""
    busybox = find_busybox()
    if busybox is None:
        raise ConfigError("no busybox binary to build the stand-in image (apt-get install busybox-static)")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    sif = dest / (SELF_CONTAINED_NAME if self_contained else IMAGE_NAME)
    launcher = (source_dir() / "mu2e.in").read_text()
    with tempfile.TemporaryDirectory(prefix="mu2e-standin-", dir="/var/tmp") as tmp:
        if self_contained:
            sandbox = make_self_contained_python_sandbox(
                Path(tmp) / "sandbox",
                busybox,
                ["include.mu2e.emulator", "uproot"],
                [repo_root() / "include"],
                exclude=OPTIONAL_MODULES,
            )
            python, path = str(Path(sys.executable).resolve()), SANDBOX_SITE
        else:
            sandbox = make_python_runtime_sandbox(Path(tmp) / "sandbox", busybox)
            _package_libraries(sandbox)
            python, path = sys.executable, str(repo_root())
        target = sandbox / "usr" / "local" / "bin" / "mu2e"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(launcher.replace("@REPO@", path).replace("@PYTHON@", python))
        target.chmod(0o755)
        build_image(sandbox, sif, executable=executable)
    binds = [] if self_contained else [str(p) for p in python_prefixes()] + [str(repo_root())]
    sidecar = {"standin": True, "self_contained": self_contained, "python": python, "binds": binds}
    atomic.write_json(Path(str(sif) + SIDECAR), sidecar)
    return sif


def _sidecar(image: str | Path) -> dict[str, Any]:
    """The stand-in's sidecar ``<image>.standin.json``; empty for a real image (which has none)."""
    sidecar = Path(str(image) + SIDECAR)
    return json.loads(sidecar.read_text()) if sidecar.is_file() else {}


def needs_host_binds(image: str | Path) -> bool:
    """True for the bound stand-in (its sidecar says so); a real or self-contained image needs none."""
    sidecar = _sidecar(image)
    return bool(sidecar) and not sidecar.get("self_contained", False)


def image_binds(image: str | Path) -> list[Bind]:
    """Read-only binds a stand-in image needs (from its sidecar); none for a real image."""
    return [Bind(p, p, "ro") for p in _sidecar(image).get("binds", []) if Path(p).exists()]


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
    parser.add_argument(
        "--self-contained", action="store_true", help="copy Python and the code into the image (no binds needed)"
    )
    args = parser.parse_args(argv)
    dest = args.dest or load_settings().data_root / "mu2e" / "images"
    sif = build_standin_image(dest, self_contained=args.self_contained)
    print(f"{sif} ({sif.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
