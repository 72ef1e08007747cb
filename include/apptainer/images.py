"""Small images built locally from a sandbox directory (no registry, no network).

* :func:`make_busybox_sandbox`: a static busybox with all its applets (about 2 MB).
* :func:`make_python_runtime_sandbox`: busybox plus the shared libraries (glibc, libssl, ...)
  that this host's Python interpreter and its extension modules link against. The interpreter
  itself is **not** copied: run it with :func:`host_python_binds`, which binds the interpreter
  prefix (and the venv) read-only at the same paths. This gives a container that runs the
  project's exact Python and ``include`` code without a registry, at the price of tying the
  image to this host's Python build. Production images should instead install Python and the
  project (like ``docker/Dockerfile``).
* :func:`make_self_contained_python_sandbox`: busybox plus a copy of the interpreter, its standard
  library, the site-packages a probe import of given modules loads, given source packages, and
  every shared library they link. It needs no bind, so it runs where binds cannot be asked for
  (HTCondor's container universe).
* :func:`build_image`: ``apptainer build`` of a sandbox into a SIF.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

from include.apptainer.command import Bind, find_apptainer
from include.apptainer.runner import RunResult, run_command
from include.core.errors import ConfigError

_EXCLUDED_EXTENSIONS = ("_tkinter",)  # pulls in X11 and Tk; never needed by task code


def find_busybox() -> str | None:
    """A busybox binary of this host: PATH, /bin/busybox, else the one in a pool root: the root of
    the pool whose wrapper ``HEP_APPTAINER_BIN`` names (``<pool>/bin/apptainer``, e.g. the checkout's
    ``.local/condor-pool``), or the ``apptainer`` on PATH is (a pool's env.sh puts it there), then
    ``$CONDOR_POOL_DIR``'s, ``$CONDOR_ROOT`` or the system-wide pool's."""
    candidates = [shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"]
    for wrapper in (os.environ.get("HEP_APPTAINER_BIN", ""), shutil.which("apptainer") or ""):
        if os.path.isabs(wrapper):
            candidates.append(os.path.join(os.path.dirname(os.path.dirname(wrapper)), "root", "usr/bin/busybox"))
    if os.environ.get("CONDOR_POOL_DIR"):
        candidates.append(os.path.join(os.environ["CONDOR_POOL_DIR"], "root", "usr/bin/busybox"))
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


def _copy_host_libraries(sandbox: Path, libs: Iterable[str], *, skip_prefixes: bool = True) -> list[str]:
    """Copy host libraries into ``sandbox`` (same paths), except (by default) those under the Python
    prefixes, which a runtime image binds."""
    prefixes = python_prefixes() if skip_prefixes else []
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


SANDBOX_SITE = "/opt/python/site-packages"
"""Where :func:`make_self_contained_python_sandbox` puts the site-packages and source packages."""
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "test", "idlelib", "tkinter", "turtledemo", "ensurepip")


def _loaded_site_files(modules: Iterable[str], python_path: Iterable[Path]) -> list[Path]:
    """Files of the site-packages modules that importing ``modules`` loads (in a fresh interpreter)."""
    modules = list(modules)
    probe = (
        "import importlib, json, sys\n"
        "for name in sys.argv[1:]: importlib.import_module(name)\n"
        "print(json.dumps([getattr(m, '__file__', None) for m in list(sys.modules.values())]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, python_path))}
    out = subprocess.run([sys.executable, "-c", probe, *modules], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise ConfigError(f"importing {', '.join(modules)} failed, so the image cannot be made: {out.stderr.strip()}")
    return [Path(f) for f in json.loads(out.stdout.splitlines()[-1]) if f]


def _site_entries(files: Iterable[Path]) -> set[Path]:
    """Top-level site-packages entries (package folders, modules, ``<name>.libs``) holding ``files``."""
    sites = [Path(p).resolve() for p in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}]
    entries: set[Path] = set()
    for file in files:
        for site in sites:
            if file.resolve().is_relative_to(site):
                top = site / file.resolve().relative_to(site).parts[0]
                entries.add(top)
                libs = site / f"{top.name.split('.')[0]}.libs"
                if libs.is_dir():
                    entries.add(libs)
    return entries


def make_self_contained_python_sandbox(
    dest: Path, busybox: str, modules: Iterable[str], sources: Iterable[Path] = (), exclude: Iterable[str] = ()
) -> Path:
    """A sandbox that runs ``python -m <module>`` without binds.

    Copies :data:`sys.executable` (its real file) and the standard library to their host paths,
    the site-packages entries a probe import of ``modules`` loads (less ``exclude``: optional
    dependencies that are imported when present) and the ``sources`` packages to
    :data:`SANDBOX_SITE`, and every shared library these link. Run it with
    ``PYTHONPATH=/opt/python/site-packages`` and the real interpreter path.
    """
    excluded = set(exclude)
    make_busybox_sandbox(dest, busybox)
    python = Path(os.path.realpath(sys.executable))
    target = dest / str(python).lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(python, target)
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    skip_site = shutil.ignore_patterns("__pycache__", "site-packages", "dist-packages", "test", "idlelib", "tkinter")
    shutil.copytree(stdlib, dest / str(stdlib).lstrip("/"), ignore=skip_site, dirs_exist_ok=True)
    site = dest / SANDBOX_SITE.lstrip("/")
    site.mkdir(parents=True, exist_ok=True)
    sources = [Path(s).resolve() for s in sources]
    for entry in sorted(_site_entries(_loaded_site_files(modules, [s.parent for s in sources]))):
        if entry.name.split(".")[0] in excluded:
            continue
        if entry.is_dir():
            shutil.copytree(entry, site / entry.name, ignore=_SKIP, dirs_exist_ok=True)
        else:
            shutil.copy2(entry, site / entry.name)
    for source in sources:
        shutil.copytree(source, site / source.name, ignore=_SKIP, dirs_exist_ok=True)
    binaries = [str(python), *(str(m) for m in dest.rglob("*.so*") if m.is_file() and ".so" in m.name)]
    _copy_host_libraries(dest, _shared_libraries(binaries), skip_prefixes=False)
    return dest


def build_image(sandbox: Path, image: Path, *, executable: str | None = None, timeout: float | None = 600) -> RunResult:
    """``apptainer build --force IMAGE SANDBOX`` (needs root, or an apptainer that allows it)."""
    Path(image).parent.mkdir(parents=True, exist_ok=True)
    argv = [find_apptainer(executable), "-s", "build", "--force", str(image), str(sandbox)]
    return run_command(argv, timeout=timeout)
