"""Benchmark: one full LHC luminosity follow-up fill (2556 bunches, ~12 h of stable beams) on one core.

    .venv/bin/python bench/lumi_fill.py [--bunches 2556] [--no-plots] [--model-plots] [--cpu N] [--keep DIR]
    .venv/bin/python bench/lumi_fill.py --process-only DIR [--cpu N]   # re-process the data of an earlier --keep DIR

The parent (stdlib only, so that its RSS does not leak into a child's ru_maxrss through fork+exec) runs
two children: one generates the demo fill (include.lumi.demo.generate), the other (``--process-only``),
pinned to one CPU with OMP/OPENBLAS/MKL_NUM_THREADS=1, runs ``process_fill`` with doSBModel=True and the
default plot flags, then again with every step fresh. It prints wall and CPU time, each step, the peak
RSS of the processing (ru_maxrss) and the time spent in the input readers, measured by timing wrappers
installed at every name they are bound to; a call nested in another timed call counts once, for the
innermost one.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

FILL = 6140
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
RAW = {"csv": "logging-DB CSV parsing", "bmodes": "fills-and-beam-modes table", "massi": "Massi archives"}
OTHER = {"decode": "instrument decoding", "sha256": "sha256 of files (manifests, provenance)"}

# (category, module, attribute): the reader entry points. Plain functions are also replaced under every
# other name bound to them in loaded include.* modules (``from ... import``); Class.method in the class.
TIMED: tuple[tuple[str, str, str], ...] = (
    # raw inputs: the text of a logging CSV, and its deferred text -> float conversion of the value rows
    ("csv", "include.lumi.logging_csv", "read_logging_csv"),
    *(("csv", "include.lumi.logging_csv", f"LoggedVariable.{m}") for m in ("scalars", "strings", "arrays", "flat")),
    ("csv", "include.lumi.logging_csv", "LoggedVariable.matrix"),
    ("bmodes", "include.lumi.inputs", "fill_times"),
    ("bmodes", "include.lumi.inputs", "load_fill_table"),
    ("bmodes", "include.lumi.fills", "derive_fill_table"),
    ("bmodes", "include.lumi.fills", "read_fill_table"),
    ("bmodes", "include.lumi.fills", "fill_record"),
    ("massi", "include.lumi.massi", "read_bunch_lumi"),
    ("massi", "include.lumi.massi", "read_summary"),
    ("massi", "include.lumi.massi", "_read_members"),
    ("massi", "include.lumi.massi", "parse_rows"),
    # upstream products: parquet/JSON back into tables and time x bunch matrices
    ("products", "include.lumi.products", "load_sb"),
    ("products", "include.lumi.products", "load_pair_lumi"),
    ("products", "include.lumi.tables", "read_parquet"),
    ("products", "include.lumi.tables", "read_json"),
    ("products", "include.lumi.tables", "matrices"),
    # not reading: instrument physics after the value parsing above, and content hashing
    *(("decode", "include.lumi.instruments", f) for f in ("fbct", "bqm", "bsrt", "energy_series", "crossing_angles")),
    ("sha256", "include.core.fingerprint", "sha256_file"),
)


class ReadTimer:
    """Exclusive wall time per category of the wrapped functions (nested timed calls are subtracted)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.sites: list[str] = []
        self._nested: list[float] = []  # per open timed call: wall time of the timed calls inside it
        self._thread = threading.get_ident()

    def wrap(self, category: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != self._thread:
                raise RuntimeError(f"{func.__qualname__} called from another thread: the read timing assumes one")
            self._nested.append(0.0)
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                self.seconds[category] += elapsed - self._nested.pop()
                self.calls[category] += 1
                if self._nested:
                    self._nested[-1] += elapsed

        return timed

    def install(self) -> None:
        """Replace every reader of TIMED at its definition and wherever it was imported by name."""
        for category, module_name, attr in TIMED:
            module = importlib.import_module(module_name)
            if "." in attr:
                cls_name, method = attr.split(".")
                cls = getattr(module, cls_name)
                setattr(cls, method, self.wrap(category, getattr(cls, method)))
                self.sites.append(f"{module_name}.{attr}")
                continue
            original = getattr(module, attr)
            wrapped = self.wrap(category, original)
            for name, mod in list(sys.modules.items()):
                if name == "include" or name.startswith("include."):
                    for key, value in list(vars(mod).items()):
                        if value is original:
                            setattr(mod, key, wrapped)
                            self.sites.append(f"{name}.{key}")

    def snapshot(self) -> dict[str, float]:
        return dict(self.seconds)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _vmhwm_mb() -> float | None:
    """Peak RSS of this process image from /proc (Linux; not inherited from the parent, unlike ru_maxrss)."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith("VmHWM:")), None)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _config(args: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = {"year": 2017, "doSBModel": True}
    if args.no_plots:
        config |= {"doSBPlots": False, "doCyclePlots": False, "doSBModelPlots": False}
    elif args.model_plots:
        config["doSBModelPlots"] = True
    return config


def process_only(args: argparse.Namespace) -> None:
    """Child: pin to one CPU, then import, time and measure ``process_fill``; write the figures as JSON."""
    os.sched_setaffinity(0, {args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))})
    for var in THREAD_VARS:
        os.environ[var] = "1"  # before numpy, pyarrow or matplotlib are imported
    root = Path(args.process_only).resolve()
    out = Path(tempfile.mkdtemp(prefix="out-", dir=root))
    os.environ["HEP_DATA_ROOT"], os.environ["HEP_OUTPUT_ROOT"] = str(root / "data"), str(out)
    if "numpy" in sys.modules:
        raise RuntimeError("numpy was imported before the thread limits were set")
    rss_start = _maxrss_mb()  # inherited from the parent: must be small

    t0 = time.perf_counter()
    importlib.import_module("include.lumi.planning")  # every module that binds a reader, before patching
    tasks = importlib.import_module("include.lumi.tasks")
    t_import = time.perf_counter() - t0
    rss_imports = _maxrss_mb()
    timer = ReadTimer()
    timer.install()

    config = _config(args)
    cpu0, t0 = _cpu_s(), time.perf_counter()
    report = tasks.process_fill(FILL, config=config)
    t_proc, cpu_proc = time.perf_counter() - t0, _cpu_s() - cpu0
    rss_proc, vmhwm = _maxrss_mb(), _vmhwm_mb()
    reads = timer.snapshot()

    t0 = time.perf_counter()
    again = tasks.process_fill(FILL, config=config)
    t_fresh = time.perf_counter() - t0
    rerun_reads = {k: v - reads.get(k, 0.0) for k, v in timer.snapshot().items()}

    workdir = Path(report["workdir"])
    meta = json.loads((workdir / f"fill_{FILL}_sb.json").read_text()) if report["ok"] else {}
    record = meta.get("record", {})
    plots = list((workdir / "plots").glob("*")) if (workdir / "plots").is_dir() else []
    result = {
        "affinity": sorted(os.sched_getaffinity(0)),
        "threads": {v: os.environ[v] for v in THREAD_VARS},
        "import_s": t_import,
        "proc_s": t_proc,
        "proc_cpu_s": cpu_proc,
        "report": report,
        "rerun_s": t_fresh,
        "rerun_ran": again["ran"],
        "rss_start_mb": rss_start,
        "rss_imports_mb": rss_imports,
        "vmhwm_mb": vmhwm,
        "rss_proc_mb": rss_proc,
        "reads": reads,
        "rerun_reads": rerun_reads,
        "sites": timer.sites,
        "sb_hours": (record.get("t_stop_STABLE", 0) - record.get("t_start_STABLE", 0)) / 3600,
        "grid_points": len(meta.get("time_range", [])),
        "n_plots": len(plots),
        "plots_mb": sum(p.stat().st_size for p in plots) / 1e6,
    }
    (root / "result.json").write_text(json.dumps(result))
    _print_result(result, args.verbose)


def _print_result(r: dict[str, Any], verbose: bool) -> None:
    proc = r["proc_s"]

    def share(seconds: float) -> str:
        return f"{seconds:6.2f} s ({100 * seconds / proc:4.1f} %)"

    print(f"stable beams            {r['sb_hours']:.1f} h, {r['grid_points']} grid points")
    print(f"child process           CPUs {r['affinity']}, " + ", ".join(f"{k}={v}" for k, v in r["threads"].items()))
    print(f"imports (not counted)   {r['import_s']:6.1f} s")
    report = r["report"]
    print(f"processing (all steps)  {proc:6.1f} s  ok={report['ok']}  (CPU time {r['proc_cpu_s']:.1f} s)")
    for step in report["steps"]:
        print(f"  {step['step']:<12} {step['state']:<8} {step['seconds']:6.2f} s")
        if step.get("error"):
            print(f"    {step['error']}")
    plot_steps = [s for s in report["steps"] if s["step"].startswith("plots_") and s["state"] == "ran"]
    plot_s = sum(s["seconds"] for s in plot_steps)
    print(f"plots ({len(plot_steps)} steps, {r['n_plots']} files, {r['plots_mb']:.0f} MB) {share(plot_s)}")
    print(
        f"peak RSS (processing)   {r['rss_proc_mb']:6.0f} MB  ru_maxrss (at start {r['rss_start_mb']:.0f} MB, "
        f"after imports {r['rss_imports_mb']:.0f} MB; /proc VmHWM {r['vmhwm_mb'] or 0:.0f} MB)"
    )
    reads = r["reads"]
    raw = sum(reads.get(k, 0.0) for k in RAW)
    print(f"reading raw inputs      {share(raw)}")
    for key, label in RAW.items():
        print(f"  {label:<36} {reads.get(key, 0.0):6.2f} s")
    print(f"reading products        {share(reads.get('products', 0.0))}")
    print("not counted as reading")
    for key, label in OTHER.items():
        print(f"  {label:<36} {reads.get(key, 0.0):6.2f} s")
    fresh = r["rerun_reads"]
    print(
        f"re-run (all fresh)      {r['rerun_s']:6.1f} s  ran={r['rerun_ran']}  "
        f"(fills table {fresh.get('bmodes', 0.0):.2f} s, sha256 {fresh.get('sha256', 0.0):.2f} s)"
    )
    if verbose:
        print("timed names: " + ", ".join(r["sites"]))


def generate_only(args: argparse.Namespace) -> None:
    """Child: write the demo fill below DIR/data/lumi."""
    from include.lumi.demo import DemoOptions, generate

    root = Path(args.generate_only).resolve()
    t0 = time.perf_counter()
    files = generate(root / "data" / "lumi", 2017, fills=(FILL,), options=DemoOptions(n_bunches=args.bunches))
    t_gen = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in files) / 1e6
    print(f"bunches per beam        {args.bunches}")
    print(f"generation (own child)  {t_gen:6.1f} s  ({len(files)} files, {size:.0f} MB)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bunches", type=int, default=2556)
    parser.add_argument("--no-plots", action="store_true", help="skip the plots (production draws them, 300 dpi)")
    parser.add_argument("--model-plots", action="store_true", help="also the SB model plots (off by default)")
    parser.add_argument("--cpu", type=int, help="CPU to pin the processing to (default: the last one allowed)")
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    parser.add_argument("--process-only", metavar="DIR", help="only process DIR/data (the child of a benchmark)")
    parser.add_argument("--generate-only", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="list every name a timing wrapper replaced")
    args = parser.parse_args()
    if args.process_only:
        process_only(args)
        return
    if args.generate_only:
        generate_only(args)
        return
    # This parent stays small (stdlib only): a child's ru_maxrss starts at its parent's RSS (fork, then exec).
    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    me = [sys.executable, str(Path(__file__).resolve())]
    with tempfile.TemporaryDirectory(prefix="lumi-bench-") as tmp:
        root = str(args.keep.resolve() if args.keep else Path(tmp))
        subprocess.run([*me, "--generate-only", root, "--bunches", str(args.bunches)], check=True)
        child = [*me, "--process-only", root, "--cpu", str(cpu)]
        child += ["--no-plots"] * args.no_plots + ["--model-plots"] * args.model_plots + ["-v"] * args.verbose
        subprocess.run(child, env=os.environ | dict.fromkeys(THREAD_VARS, "1"), check=True)


if __name__ == "__main__":
    main()
