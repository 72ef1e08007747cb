"""Small local stand-ins for the production images, and what running them needs.

Production uses the real images (``ldmx/dark-brem-lib-gen`` and ``ldmx/pro`` as SIF files or on
CVMFS). For tests, the demo and the benchmark the project builds three small SIFs from
``docker/images/ldmx`` that honour the same container contracts (options, mounts, file names,
``/etc/entry.sh``, ``g4db-extract-library``, ``fire config.py``) with toy physics:

* ``dbgen-v4.sif``: entrypoint with underscore options, ``/output`` and ``/working`` (dbgen v4.6);
* ``dbgen-v5.sif``: no entrypoint, ``dark-brem-lib-gen`` with dashed options (dbgen v5.2);
* ``ldmx-pro.sif``: ``/etc/entry.sh`` (cd to ``$1``, eval the rest), ``g4db-extract-library`` and
  ``fire``, which writes a ROOT file with uproot.

The payload is Python, run by **this host's interpreter bound into the container** read-only
(:func:`include.apptainer.images.host_python_binds`; the image carries busybox and the shared
libraries that interpreter needs). That ties the stand-ins to this host; each SIF has a sidecar
``<sif>.standin.json`` listing those binds, which :func:`standin_binds` reads. Real images have no
sidecar and need no extra binds.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

import include
from include.apptainer import images
from include.apptainer.command import Bind
from include.apptainer.images import build_image, find_busybox, make_python_runtime_sandbox, python_prefixes
from include.core import atomic
from include.core.errors import ConfigError

SIDECAR = ".standin.json"
# Compiled packages ``fire`` imports (numpy, uproot's codecs): the host libraries they link
# against (libstdc++, libgcc_s, ...) are copied into the ldmx image.
SIM_PACKAGES = ("numpy", "awkward_cpp", "pyarrow", "cramjam", "xxhash", "zstandard", "lz4")
IMAGE_NAMES = {"dbgen-v4": "4.6", "dbgen-v5": "5.2", "ldmx-pro": None}


def checkout() -> Path:
    """The project checkout this package is installed from (editable install)."""
    return Path(include.__file__).resolve().parents[1]


def source_dir() -> Path:
    """``docker/images/ldmx`` of this checkout (the image payload)."""
    return checkout() / "docker" / "images" / "ldmx"


def sim_config_text() -> str:
    """The default simulation config script (``config.py``)."""
    return resources.files("include.darkbrem").joinpath("sim_config.py.tmpl").read_text()


def demo_apptainer() -> Path:
    """The apptainer wrapper ``scripts/install-demo-tools.sh`` sets up inside the checkout."""
    return checkout() / ".local" / "condor-pool" / "bin" / "apptainer"


def apptainer_hint() -> str:
    """How to get apptainer: the command, and the setting that names it."""
    return (
        f"get it with `{checkout()}/scripts/install-demo-tools.sh` as root (apptainer inside the checkout, "
        f"{demo_apptainer()}; scripts/env.sh then sets HEP_APPTAINER_BIN to it, and ./scripts/run.sh does "
        "both), or set HEP_APPTAINER_BIN to an apptainer executable"
    )


def apptainer_missing(apptainer_bin: str = "") -> str | None:
    """None if a container runtime can be started here, else what is missing and how to get it.

    ``apptainer_bin`` is the ``HEP_APPTAINER_BIN`` setting; empty means apptainer, else
    singularity, on PATH.
    """
    if apptainer_bin:
        if shutil.which(apptainer_bin):
            return None
        return f"HEP_APPTAINER_BIN={apptainer_bin} is not an executable file; {apptainer_hint()}"
    if shutil.which("apptainer") or shutil.which("singularity"):
        return None
    return (
        f"no apptainer: HEP_APPTAINER_BIN is empty and neither apptainer nor singularity is on PATH; {apptainer_hint()}"
    )


def missing_image_hint(image: Path, apptainer_bin: str = "") -> str:
    """How to get a missing image: build the stand-in (with the command), or name a real image."""
    if image.suffix == ".sif" and image.stem in IMAGE_NAMES:
        hint = (
            f"build the stand-in images with `python -m include.darkbrem.standin {image.parent}` "
            "(./scripts/run.sh builds them when apptainer is set up)"
        )
        problem = apptainer_missing(apptainer_bin)
        if problem:
            hint += f"; that needs apptainer, which is missing too: {problem}"
        return hint + "; in production give the real image (a SIF file or a /cvmfs path)"
    return "give an existing SIF file or unpacked image directory (inside the data root or on /cvmfs)"


def standin_binds(image: str | Path) -> list[Bind]:
    """Extra read-only binds a stand-in image needs (its sidecar), else none."""
    sidecar = Path(str(image) + SIDECAR)
    if not sidecar.is_file():
        return []
    data = json.loads(sidecar.read_text())
    return [Bind(path, path, "ro") for path in data.get("binds", []) if Path(path).exists()]


def _script(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


def _runscript(sandbox: Path, text: str) -> None:
    _script(sandbox / ".singularity.d" / "runscript", text)


def add_package_libraries(sandbox: Path, packages: tuple[str, ...] = SIM_PACKAGES) -> list[str]:
    """Copy the host libraries that the simulation's packages need into the sandbox."""
    return images.add_package_libraries(sandbox, packages)


def populate(sandbox: Path, name: str, python: str = sys.executable, source: Path | None = None) -> Path:
    """Add the payload of image ``name`` to a python-runtime sandbox."""
    source = source or source_dir()
    if name.startswith("dbgen"):
        (sandbox / "opt").mkdir(exist_ok=True)
        shutil.copy2(source / "dbgen" / "dbgen_standin.py", sandbox / "opt" / "dbgen_standin.py")
        version = IMAGE_NAMES[name]
        launcher = f'#!/bin/sh\nexport STANDIN_DBGEN_VERSION={version}\nexec {python} /opt/dbgen_standin.py "$@"\n'
        if name == "dbgen-v4":
            _runscript(sandbox, launcher)
        else:  # v5.1+: no entrypoint, a command on PATH
            _script(sandbox / "usr" / "local" / "bin" / "dark-brem-lib-gen", launcher)
            _runscript(sandbox, "#!/bin/sh\necho 'this image has no entrypoint; use dark-brem-lib-gen' >&2\nexit 1\n")
    else:
        local = sandbox / "usr" / "local"
        add_package_libraries(sandbox)
        _script(sandbox / "etc" / "entry.sh", (source / "ldmx" / "entry.sh").read_text())
        shutil.copytree(source / "ldmx" / "python", local / "python", dirs_exist_ok=True)
        (local / "lib" / "standin").mkdir(parents=True, exist_ok=True)
        for script in ("fire_standin.py", "g4db_extract_standin.py"):
            shutil.copy2(source / "ldmx" / script, local / "lib" / "standin" / script)
        _script(local / "bin" / "fire", f'#!/bin/sh\nexec {python} /usr/local/lib/standin/fire_standin.py "$@"\n')
        _script(
            local / "bin" / "g4db-extract-library",
            f'#!/bin/sh\nexec {python} /usr/local/lib/standin/g4db_extract_standin.py "$@"\n',
        )
        _runscript(sandbox, '#!/bin/sh\nexec /etc/entry.sh "$@"\n')
    return sandbox


def build_standin_images(
    dest: str | Path, *, names: tuple[str, ...] = tuple(IMAGE_NAMES), executable: str | None = None
) -> dict[str, Path]:
    """Build the stand-in SIFs into ``dest`` (with their sidecars); return ``{name: sif}``."""
    busybox = find_busybox()
    if busybox is None:
        raise ConfigError("no busybox binary to build the stand-in images (apt-get install busybox-static)")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    built = {}
    with tempfile.TemporaryDirectory(prefix="darkbrem-standin-", dir="/var/tmp") as tmp:
        base = make_python_runtime_sandbox(Path(tmp) / "base", busybox)
        for name in names:
            sandbox = Path(tmp) / name
            shutil.copytree(base, sandbox, symlinks=True)
            populate(sandbox, name)
            sif = dest / f"{name}.sif"
            build_image(sandbox, sif, executable=executable)
            shutil.rmtree(sandbox)
            sidecar = {
                "standin": True,
                "image": name,
                "dbgen_version": IMAGE_NAMES[name],
                "python": sys.executable,
                "binds": [str(p) for p in python_prefixes()],
                "note": "local stand-in of the production image; runs this host's Python (bound read-only)",
            }
            atomic.write_json(Path(str(sif) + SIDECAR), sidecar)
            built[name] = sif
    return built


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m include.darkbrem.standin", description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="folder for the SIFs (e.g. <data root>/ldmx_darkbrem_signal/images)")
    parser.add_argument("--only", nargs="+", choices=list(IMAGE_NAMES))
    args = parser.parse_args(argv)
    for name, sif in build_standin_images(args.dest, names=tuple(args.only or IMAGE_NAMES)).items():
        print(f"{name}: {sif} ({sif.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
