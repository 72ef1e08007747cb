"""Demo data: write realistic, seeded inputs for every production into the data root.

    python -m include.demo [--data-root DIR] [--only lumi,...] [--seed N] [--force]

Each production registers one generator ``generate(target: Path, seed: int) -> list[Path]``
that writes its inputs below ``target`` (``<data root>/<production>``) and returns the files it
wrote. A production whose folder already holds a completion marker from the same seed is
skipped unless ``--force``; a half-written folder (no marker) is generated again. A generator's
module may also define ``missing(target) -> list[Path]``: files of a finished demo that are absent
(e.g. images that need a tool installed after the first run); when it lists any, the production
is generated again.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
from pathlib import Path

from include.core import atomic
from include.core.errors import ParamError
from include.core.fingerprint import hash_object
from include.settings import load_settings

# production -> "module:function". Add a line here when a production gets its generator.
GENERATORS: dict[str, str] = {
    "lumi": "include.lumi.demo:generate",
    "ecal_windows": "include.ecal_windows.generator:generate",
    "egamma_tnp": "include.tnp.demo:generate",
    "mu2e": "include.mu2e.demo:generate",
    "ldmx_darkbrem_signal": "include.darkbrem.demo:generate",
}

MARKER = ".demo-complete.json"


def available() -> dict[str, str]:
    """The registered generators whose module can be imported here."""
    found = {}
    for name, ref in GENERATORS.items():
        module = ref.split(":")[0]
        if importlib.util.find_spec(module) is not None:
            found[name] = ref
    return found


def _missing(module: object, target: Path) -> list[Path]:
    check = getattr(module, "missing", None)
    return list(check(target)) if check is not None else []


def generate(data_root: Path, only: list[str] | None = None, seed: int = 2017, force: bool = False) -> dict:
    """Run the generators; return ``{production: {"files": n, "seconds": s, "skipped": bool}}``."""
    generators = available()
    names = only or list(generators)
    for name in names:
        if name not in generators:
            raise ParamError("only", f"no demo generator for {name!r}; known: {', '.join(generators)}")
    summary = {}
    for name in names:
        target = data_root / name
        marker = target / MARKER
        stamp = {"production": name, "seed": seed, "generator": generators[name]}
        module_name, func_name = generators[name].split(":")
        module = importlib.import_module(module_name)
        if not force and marker.exists() and hash_object(stamp) in marker.read_text() and not _missing(module, target):
            summary[name] = {"files": 0, "seconds": 0.0, "skipped": True}
            continue
        func = getattr(module, func_name)
        t0 = time.monotonic()
        target.mkdir(parents=True, exist_ok=True)
        files = func(target, seed)
        atomic.write_json(marker, {**stamp, "hash": hash_object(stamp), "files": len(files)})
        summary[name] = {"files": len(files), "seconds": round(time.monotonic() - t0, 2), "skipped": False}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, help="default: the HEP_DATA_ROOT setting")
    parser.add_argument("--only", help="comma-separated productions (default: all)")
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--force", action="store_true", help="regenerate even if complete")
    args = parser.parse_args(argv)
    data_root = (args.data_root or load_settings().data_root).resolve()
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    try:
        summary = generate(data_root, only, args.seed, args.force)
    except ParamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, info in summary.items():
        state = "already there" if info["skipped"] else f"{info['files']} files in {info['seconds']} s"
        print(f"{name:<24} {data_root / name}  ({state})")
    if not summary:
        print("no demo generators registered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
