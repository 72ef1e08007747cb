"""Small images built locally from a sandbox directory (no registry, no network).

* :func:`make_busybox_sandbox`: a static busybox with all its applets (about 2 MB).
* :func:`make_python_runtime_sandbox`: busybox plus the shared libraries (glibc, libssl, ...)
  that this host's Python interpreter and its extension modules link against. The interpreter
  itself is **not** copied: run it with :func:`host_python_binds`, which binds the interpreter
  prefix (and the venv) read-only at the same paths. This gives a container that runs the
  project's exact Python and ``include`` code without a registry, at the price of tying the
  image to this host's Python build. Production images should instead install Python and the
  project (like ``docker/Dockerfile``).
* :func:`build_image`: ``apptainer build`` of a sandbox into a SIF.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from include.apptainer.command import Bind, find_apptainer
from include.apptainer.runner import RunResult, run_command

_EXCLUDED_EXTENSIONS = ("_tkinter",)  # pulls in X11 and Tk; never needed by task code


def find_busybox() -> str | None:
    """A busybox binary of this host: PATH, /bin/busybox, else the one in the pool root."""
    candidates = [shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"]
    root = os.environ.get("CONDOR_ROOT", "/var/lib/hep-productions/condor-pool/root")
    candidates.append(os.path.join(root, "usr/bin/busybox"))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def make_busybox_sandbox(dest: Path, busybox: str) -> Path:
    """Write a sandbox directory: ``/bin/busybox``, one link per applet, minimal ``/etc``."""
    dest = Path(dest)
    for sub in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "home", "var/tmp"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, dest / "bin" / "busybox")
    listing = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout
    for applet in listing.split():
        link = dest / "bin" / applet
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    (dest / "usr").mkdir(exist_ok=True)
    if not (dest / "usr" / "bin").exists():
        (dest / "usr" / "bin").symlink_to("../bin")
    (dest / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    (dest / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return dest


def _shared_libraries(binaries: Iterable[str]) -> set[str]:
    """Absolute paths of the shared libraries ``ldd`` reports for ``binaries`` (and the loader)."""
    libs: set[str] = set()
    for binary in binaries:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts:
                target = parts[parts.index("=>") + 1]
                if target.startswith("/"):
                    libs.add(target)
            elif parts and parts[0].startswith("/"):
                libs.add(parts[0])  # the dynamic loader
    return libs


def python_prefixes() -> list[Path]:
    """The real directories holding this interpreter and its venv (deduplicated)."""
    prefixes: list[Path] = []
    for prefix in (sys.base_prefix, sys.prefix):
        path = Path(prefix).resolve()
        if not any(path == p or path.is_relative_to(p) for p in prefixes):
            prefixes.append(path)
    return prefixes


def host_python_binds() -> list[Bind]:
    """Read-only binds that make :data:`sys.executable` usable inside a runtime image."""
    return [Bind(str(p), str(p), "ro") for p in python_prefixes()]


def make_python_runtime_sandbox(dest: Path, busybox: str, python: str = sys.executable) -> Path:
    """A busybox sandbox plus the host libraries ``python`` and its extension modules need."""
    make_busybox_sandbox(dest, busybox)
    real_python = os.path.realpath(python)
    dynload = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "lib-dynload"
    modules = [str(m) for m in sorted(dynload.glob("*.so")) if not m.name.startswith(_EXCLUDED_EXTENSIONS)]
    _copy_host_libraries(dest, _shared_libraries([real_python, *modules]))
    return dest


def _copy_host_libraries(sandbox: Path, libs: Iterable[str]) -> list[str]:
    """Copy host libraries into ``sandbox`` (same paths), except those under the Python prefixes."""
    prefixes = python_prefixes()
    copied = []
    for lib in sorted(libs):
        if any(Path(lib).resolve().is_relative_to(p) for p in prefixes):
            continue  # part of the interpreter prefix: bound at run time
        target = sandbox / lib.lstrip("/")
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(lib), target)
        copied.append(lib)
    return copied


def add_package_libraries(sandbox: Path, packages: Iterable[str]) -> list[str]:
    """Copy the host libraries that ``packages``' extension modules link (numpy needs libstdc++, ...)."""
    import importlib.util

    modules: list[str] = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                modules += [str(m) for m in Path(location).rglob("*.so")]
        elif spec.origin and spec.origin.endswith(".so"):
            modules.append(spec.origin)
    return _copy_host_libraries(sandbox, _shared_libraries(modules))


def build_image(sandbox: Path, image: Path, *, executable: str | None = None, timeout: float | None = 600) -> RunResult:
    """``apptainer build --force IMAGE SANDBOX`` (needs root, or an apptainer that allows it)."""
    Path(image).parent.mkdir(parents=True, exist_ok=True)
    argv = [find_apptainer(executable), "-s", "build", "--force", str(image), str(sandbox)]
    return run_command(argv, timeout=timeout)
