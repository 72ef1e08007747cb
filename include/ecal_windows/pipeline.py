"""The production's units: list and check inputs, windows and parquet per file group, finalize.

Every public function takes and returns JSON-able values, so each runs in the worker, as an
HTCondor job (``include.core.backends.run_call``) or from the terminal (``__main__``). Outputs:

    <output root>/ecal_windows_dataset/<output_dir>/
        inputs_report.json                 files found, files refused (and why), groups
        groups/<job>/clusters_data_<job>.ndjson.gz|.meta.csv|.provenance.json (+ manifests)
        parquet/records_<job>.parquet, _common_metadata, _metadata, dataset_metadata.txt
        summary/summary.json, counts.csv, *.png
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from include.core import atomic
from include.core.errors import InputFileError, ParamError
from include.core.fingerprint import sha256_file
from include.core.forms import backend_choice, job_options
from include.core.paths import reject_shell_metacharacters, resolve_inside, safe_name
from include.core.steps import FORCE_ALL, Reason, Step, StepGraph, UnitContext
from include.ecal_windows import PRODUCTION
from include.ecal_windows.config import WindowConfig
from include.ecal_windows.form import BACKENDS, DEFAULTS, PARQUET_COMPRESSIONS, RUN_KEYS, WP_FORMATS
from include.settings import load_settings

CHUNK_EVENTS = 2000
REPORT = "inputs_report.json"
FINALIZE_RESULT = "finalize.json"


def validate_params(params: dict[str, Any]) -> dict[str, Any]:
    """Check every parameter; return them normalized (absolute paths inside the roots)."""
    unknown = sorted(set(params) - set(DEFAULTS) - set(RUN_KEYS))
    if unknown:
        raise ParamError(unknown[0], "unknown parameter")
    p = {**DEFAULTS, **{k: v for k, v in params.items() if k not in RUN_KEYS}}
    p["features_file"] = p["features_file"] or ""  # an empty form field: the packaged default
    settings = load_settings()
    for name in ("input_dir", "wp_file", "features_file", "output_dir"):
        if not isinstance(p[name], str):
            raise ParamError(name, f"{p[name]!r} must be a string")
        reject_shell_metacharacters(p[name], name)
    p["input_dir"] = str(resolve_inside(p["input_dir"], [settings.data_root], "input_dir", must_exist=True))
    if not Path(p["input_dir"]).is_dir():
        raise ParamError("input_dir", f"{p['input_dir']} is not a folder")
    p["wp_file"] = str(resolve_inside(p["wp_file"], [settings.data_root], "wp_file", must_exist=True))
    if p["features_file"]:
        p["features_file"] = str(
            resolve_inside(p["features_file"], [settings.data_root], "features_file", must_exist=True)
        )
    safe_name(p["output_dir"], "output_dir")
    if not isinstance(p["files_per_group"], int) or isinstance(p["files_per_group"], bool) or p["files_per_group"] < 1:
        raise ParamError("files_per_group", f"{p['files_per_group']!r} must be an integer >= 1")
    if p["wp_format"] not in WP_FORMATS:
        raise ParamError("wp_format", f"{p['wp_format']!r} is not one of {WP_FORMATS}")
    if p["parquet_compression"] not in PARQUET_COMPRESSIONS:
        raise ParamError("parquet_compression", f"{p['parquet_compression']!r} is not one of {PARQUET_COMPRESSIONS}")
    for name in ("overlap", "do_pu_sim", "compress", "redo"):
        if not isinstance(p[name], bool):
            raise ParamError(name, f"{p[name]!r} must be true or false")
    window_config(p)  # raises ParamError naming the option
    from include.ecal_windows.schema import load_features

    try:
        load_features(p["features_file"] or None)
    except InputFileError as exc:
        raise ParamError("features_file", str(exc)) from exc
    from include.ecal_windows.workingpoint import load_working_point

    try:
        load_working_point(p["wp_file"], p["wp_format"])
    except InputFileError as exc:
        raise ParamError("wp_file", str(exc)) from exc
    return p


def validate_form(form: dict[str, Any]) -> dict[str, Any]:
    """The DAG's first task: the dataset's parameters (:func:`validate_params`) and how the run runs
    (``backend`` and the HTCondor options)."""
    return {
        "params": validate_params(form),
        "backend": backend_choice(form, BACKENDS),
        **job_options(form),
    }


def window_config(p: dict[str, Any]) -> WindowConfig:
    keys = ("assoc_strategy", "overlap", "maxnocalow", "min_et_seed", "pu_limit", "do_pu_sim", "window_version")
    keys += ("seed_gen_check", "random_seed", "flavour")
    return WindowConfig(**{k: p[k] for k in keys})


@dataclass(frozen=True)
class Layout:
    """Where a dataset's products live."""

    root: Path

    @classmethod
    def of(cls, p: dict[str, Any]) -> Layout:
        return cls(load_settings().output_root / PRODUCTION / safe_name(p["output_dir"], "output_dir"))

    @property
    def parquet_dir(self) -> Path:
        return self.root / "parquet"

    @property
    def summary_dir(self) -> Path:
        return self.root / "summary"

    def group_dir(self, job: int) -> Path:
        return self.root / "groups" / f"{job:04d}"

    def ndjson(self, job: int, compress: bool) -> Path:
        return self.group_dir(job) / f"clusters_data_{job}.ndjson{'.gz' if compress else ''}"

    def meta(self, job: int) -> Path:
        return self.group_dir(job) / f"clusters_data_{job}.meta.csv"

    def provenance(self, job: int) -> Path:
        return self.group_dir(job) / f"clusters_data_{job}.provenance.json"

    def parquet(self, job: int) -> Path:
        return self.parquet_dir / f"records_{job}.parquet"


def list_inputs(params: dict[str, Any]) -> dict[str, Any]:
    """Sorted ``*.root`` files below the input folder, checked; unreadable ones reported and skipped."""
    from include.ecal_windows.dumper import check_input, needed_branches

    p = validate_params(params)
    settings = load_settings()
    files = sorted(Path(p["input_dir"]).rglob("*.root"), key=lambda f: str(f))
    branches = needed_branches(p["assoc_strategy"], p["do_pu_sim"])
    good, bad = [], []
    for path in files:
        try:
            resolve_inside(path, [settings.data_root], "input_dir")
        except ParamError:
            bad.append({"path": str(path), "problem": "links outside the data root"})
            continue
        check = check_input(path, branches)
        if check.ok:
            good.append({"path": str(path), "events": check.events})
        else:
            bad.append({"path": str(path), "problem": check.problem})
    size = p["files_per_group"]
    groups = [
        {"job": i // size + 1, "files": [g["path"] for g in good[i : i + size]]} for i in range(0, len(good), size)
    ]
    layout = Layout.of(p)
    stale = _set_aside_stale(layout, {g["job"] for g in groups})
    report = {
        "input_dir": p["input_dir"],
        "files": len(files),
        "good": good,
        "bad": bad,
        "groups": groups,
        "stale_set_aside": stale,
    }
    _write_json_if_changed(layout.root / REPORT, report)
    return {**report, "params": p}


def _write_json_if_changed(path: Path, obj: Any) -> None:
    """Write ``obj`` unless the file already holds exactly it (a re-run touches nothing)."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    if not path.exists() or path.read_text() != text:
        atomic.write_text(path, text)


def _set_aside_stale(layout: Layout, jobs: set[int]) -> list[str]:
    """Move parquet files of jobs no longer planned (a new grouping) to ``stale/``: never deleted."""
    moved = []
    for path in sorted(layout.parquet_dir.glob("records_*.parquet")):
        job = path.stem.removeprefix("records_")
        if job.isdigit() and int(job) not in jobs:
            target = layout.root / "stale" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
            moved.append(str(target))
    return moved


# -- the two steps of a group -----------------------------------------------------------------


def _group(ctx: UnitContext) -> tuple[dict[str, Any], int, list[Path], Layout]:
    p = ctx.params
    return p, int(p["job"]), [Path(f) for f in p["files"]], Layout.of(p)


def _window_chunks(files: list[Path], p: dict[str, Any], counts: dict[str, int], meta_rows: list[str]) -> Iterator[str]:
    from include.ecal_windows import ndjson
    from include.ecal_windows.dumper import iterate_events, needed_branches
    from include.ecal_windows.windows import compute_windows
    from include.ecal_windows.workingpoint import load_working_point

    cfg = window_config(p)
    wp = load_working_point(p["wp_file"], p["wp_format"])
    branches = needed_branches(cfg.assoc_strategy, cfg.do_pu_sim)
    for path in files:
        for events in iterate_events(path, branches, CHUNK_EVENTS):
            result = compute_windows(events, cfg, wp, str(path))
            counts["events"] += result.n_events
            counts["windows"] += result.n_windows
            meta_rows.append(ndjson.meta_body(result.meta))
            yield ndjson.to_lines(result.records)


def _run_windows(ctx: UnitContext) -> dict[str, int]:
    from include.ecal_windows import ndjson
    from include.ecal_windows.windows import META_COLUMNS

    p, job, files, layout = _group(ctx)
    counts = {"events": 0, "windows": 0}
    meta_rows: list[str] = [";".join(META_COLUMNS) + "\n"]
    ndjson.write_ndjson(layout.ndjson(job, p["compress"]), _window_chunks(files, p, counts, meta_rows), p["compress"])
    atomic.write_text(layout.meta(job), "".join(meta_rows))
    provenance = {
        "job": job,
        "config": window_config(p).to_dict(),
        "compress": p["compress"],
        "window_version": p["window_version"],
        "seed_gen_check": p["seed_gen_check"],
        "random_seed": p["random_seed"],
        "wp_file": p["wp_file"],
        "wp_format": p["wp_format"],
        "wp_sha256": sha256_file(p["wp_file"]),
        "inputs": [{"path": str(f), "sha256": sha256_file(f)} for f in files],
        **counts,
    }
    atomic.write_json(layout.provenance(job), provenance)
    return counts


def _run_parquet(ctx: UnitContext) -> dict[str, int]:
    from include.ecal_windows import parquet
    from include.ecal_windows.schema import load_features

    p, job, _files, layout = _group(ctx)
    features = load_features(p["features_file"] or None)
    return parquet.convert(
        [layout.ndjson(job, p["compress"])], layout.parquet(job), features, p["flavour"], p["parquet_compression"]
    )


def _features_file(ctx: UnitContext) -> list[Path]:
    from include.ecal_windows.schema import default_features_path

    return [Path(ctx.params["features_file"]) if ctx.params["features_file"] else default_features_path()]


WINDOW_KEYS = (
    "files",
    "assoc_strategy",
    "wp_format",
    "maxnocalow",
    "min_et_seed",
    "overlap",
    "pu_limit",
    "do_pu_sim",
    "window_version",
    "seed_gen_check",
    "random_seed",
    "flavour",
    "compress",
)

GRAPH = StepGraph(
    PRODUCTION,
    [
        Step(
            "windows",
            run=_run_windows,
            outputs=lambda c: [
                Layout.of(c.params).ndjson(c.params["job"], c.params["compress"]),
                Layout.of(c.params).meta(c.params["job"]),
                Layout.of(c.params).provenance(c.params["job"]),
            ],
            inputs=lambda c: [*map(Path, c.params["files"]), Path(c.params["wp_file"])],
            params=lambda c: {k: c.params[k] for k in WINDOW_KEYS},
            version="1",
        ),
        Step(
            "parquet",
            run=_run_parquet,
            requires=("windows",),
            outputs=lambda c: [Layout.of(c.params).parquet(c.params["job"])],
            inputs=_features_file,
            params=lambda c: {k: c.params[k] for k in ("flavour", "parquet_compression", "compress")},
            version="1",
        ),
    ],
)


def _adopt_roots(roots: dict[str, str] | None) -> None:
    """In an HTCondor job or container, use the roots the worker resolved (same values locally)."""
    if not roots:
        return
    current = load_settings()
    wanted = {"HEP_DATA_ROOT": roots.get("data_root", ""), "HEP_OUTPUT_ROOT": roots.get("output_root", "")}
    if (str(current.data_root), str(current.output_root)) != (wanted["HEP_DATA_ROOT"], wanted["HEP_OUTPUT_ROOT"]):
        os.environ.update({k: v for k, v in wanted.items() if v})


def current_roots() -> dict[str, str]:
    """The data and output roots of this process (passed along to remote backends)."""
    settings = load_settings()
    return {"data_root": str(settings.data_root), "output_root": str(settings.output_root)}


def run_group(
    params: dict[str, Any],
    job: int,
    files: list[str],
    steps: list[str] | None = None,
    roots: dict[str, str] | None = None,
    backend: str = "local",
) -> dict[str, Any]:
    """Run the stale steps of one file group (all of them with ``redo``); return the unit report.

    ``roots`` are the worker's data and output roots (for HTCondor jobs); ``backend`` is recorded in
    the manifests (it does not change the results, so it is not part of the fingerprint).
    """
    _adopt_roots(roots)
    ctx = group_context(params, job, files, backend)
    redo = ctx.params["redo"]
    report = GRAPH.run_unit(ctx, FORCE_ALL if redo else None, only=steps, raise_on_failure=True)
    return {**report.to_dict(), "job": job, "files": ctx.params["files"]}


def group_context(params: dict[str, Any], job: int, files: list[str], backend: str = "local") -> UnitContext:
    """The step context of one file group (parameters checked, files inside the data root)."""
    p = validate_params(params)
    settings = load_settings()
    checked = [str(resolve_inside(f, [settings.data_root], "files", must_exist=True)) for f in files]
    if not isinstance(job, int) or isinstance(job, bool) or job < 1:
        raise ParamError("job", f"{job!r} must be an integer >= 1")
    unit = f"{p['output_dir']}/{job:04d}"
    return UnitContext(PRODUCTION, unit, Layout.of(p).group_dir(job), {**p, "job": job, "files": checked}, backend)


def group_fresh(params: dict[str, Any], job: int, files: list[str], step: str) -> bool:
    """Whether ``step`` of the group is up to date and not redone (it has nothing to do)."""
    ctx = group_context(params, job, files)
    return GRAPH.plan(ctx, FORCE_ALL if ctx.params["redo"] else None)[step] is Reason.FRESH


# -- the dataset: finalize and summary --------------------------------------------------------


def _dataset_ctx(p: dict[str, Any], extra: dict[str, Any]) -> UnitContext:
    return UnitContext(PRODUCTION, p["output_dir"], Layout.of(p).root, {**p, **extra})


def _run_finalize(ctx: UnitContext) -> dict[str, Any]:
    from include.ecal_windows import parquet
    from include.ecal_windows.schema import load_features

    layout = Layout.of(ctx.params)
    result = parquet.finalize(layout.parquet_dir, load_features(ctx.params["features_file"] or None))
    atomic.write_json(layout.root / FINALIZE_RESULT, {**result, "folder": str(layout.parquet_dir)})
    return result


def _run_summary(ctx: UnitContext) -> dict[str, Any]:
    from include.ecal_windows.summary import summarize

    layout = Layout.of(ctx.params)
    extra = {"bad_inputs": ctx.params["bad_inputs"], "failed_groups": ctx.params["failed_groups"]}
    return summarize(layout.parquet_dir, layout.summary_dir, extra)


def _parquet_inputs(ctx: UnitContext) -> list[Path]:
    from include.ecal_windows.parquet import dataset_files

    return dataset_files(Layout.of(ctx.params).parquet_dir)


def _finalize_outputs(ctx: UnitContext) -> list[Path]:
    layout = Layout.of(ctx.params)
    names = ("_common_metadata", "_metadata", "dataset_metadata.txt")
    return [layout.parquet_dir / n for n in names] + [layout.root / FINALIZE_RESULT]


DATASET_GRAPH = StepGraph(
    PRODUCTION,
    [
        Step(
            "finalize",
            run=_run_finalize,
            outputs=_finalize_outputs,
            inputs=_parquet_inputs,
            params=lambda c: {"features_file": c.params["features_file"]},
        ),
        Step(
            "summary",
            run=_run_summary,
            requires=("finalize",),
            outputs=lambda c: [Layout.of(c.params).summary_dir / n for n in ("summary.json", "counts.csv")],
            params=lambda c: {k: c.params[k] for k in ("bad_inputs", "failed_groups")},
        ),
    ],
)


def finalize_dataset(params: dict[str, Any]) -> dict[str, Any]:
    """Finalize the parquet folder (one schema, ``_common_metadata``, ``_metadata``); skip if fresh."""
    p = validate_params(params)
    ctx = _dataset_ctx(p, {"bad_inputs": [], "failed_groups": []})
    DATASET_GRAPH.run_unit(ctx, "finalize" if p["redo"] else None, only=["finalize"], raise_on_failure=True)
    return json.loads((Layout.of(p).root / FINALIZE_RESULT).read_text())


def summarize_dataset(params: dict[str, Any], planned_jobs: list[int]) -> dict[str, Any]:
    """Summary of the finalized dataset; lists refused inputs and planned groups without parquet."""
    p = validate_params(params)
    layout = Layout.of(p)
    report = json.loads((layout.root / REPORT).read_text())
    failed = [job for job in planned_jobs if not layout.parquet(job).exists()]
    bad = [{"path": b["path"], "problem": b["problem"]} for b in report["bad"]]
    ctx = _dataset_ctx(p, {"bad_inputs": bad, "failed_groups": failed})
    DATASET_GRAPH.run_unit(ctx, "summary" if p["redo"] else None, only=["summary"], raise_on_failure=True)
    return json.loads((layout.summary_dir / "summary.json").read_text())


def dataset_digest(folder: Path) -> str:
    """sha256 over the names and bytes of the parquet files (a reproducibility fingerprint)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.parquet")):
        digest.update(path.name.encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def group_results_table(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per group: job, ok, and what each step did."""
    rows = []
    for r in results:
        rows.append(
            {
                "job": r.get("job"),
                "ok": r.get("ok", False),
                "steps": {s["step"]: s["state"] for s in r.get("steps", [])},
                "error": r.get("error", ""),
            }
        )
    return rows
