"""The apptainer backend's runtime image: the SIF that ``HEP_RUNTIME_IMAGE`` names.

    python -m include.apptainer.runtime_image DEST.sif

A busybox image holding the shared libraries that this host's Python and the extension modules
of the productions' packages link against; the interpreter, the venv and ``include`` are bound in
read-only when a unit runs (:func:`include.apptainer.images.host_python_binds`), so a unit in the
container runs the worker's exact code. The image is therefore tied to this host's Python build:
rebuild it after changing the venv's compiled packages. A site that ships its own image with
Python and the project installed (like ``docker/Dockerfile``) uses the operator's ``image``
instead.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from include.apptainer import images
from include.core.errors import ConfigError

PACKAGES = ("numpy", "pandas", "pyarrow", "scipy", "matplotlib", "uproot", "awkward", "yaml", "sqlalchemy")
"""Packages whose compiled modules the productions import inside a unit."""


def build_runtime_image(dest: Path, packages: Iterable[str] = PACKAGES, executable: str | None = None) -> Path:
    """Build the runtime SIF at ``dest`` (atomically: a failed build leaves no file)."""
    busybox = images.find_busybox()
    if busybox is None:
        raise ConfigError("no busybox binary to build the runtime image from (apt-get install busybox-static)")
    dest = Path(dest).resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".runtime-image-", dir=dest.parent) as work:
        sandbox = images.make_python_runtime_sandbox(Path(work) / "sandbox", busybox)
        images.add_package_libraries(sandbox, packages)
        partial = Path(work) / dest.name
        result = images.build_image(sandbox, partial, executable=executable)
        if result.returncode != 0 or not partial.is_file():
            raise ConfigError(f"apptainer build of {dest} failed (exit {result.returncode})")
        partial.replace(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.apptainer.runtime_image", description=__doc__.splitlines()[0]
    )
    parser.add_argument("dest", type=Path, help="the SIF to write (then set HEP_RUNTIME_IMAGE to it)")
    args = parser.parse_args(argv)
    try:
        image = build_runtime_image(args.dest)
    except ConfigError as exc:
        print(f"runtime image: {exc}", file=sys.stderr)
        return 1
    print(f"runtime image: {image} ({image.stat().st_size / 1e6:.1f} MB); export HEP_RUNTIME_IMAGE={image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
