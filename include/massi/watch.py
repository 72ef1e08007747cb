"""Task functions of the Massi watcher and of the reprocessing it triggers.

The database is the record of truth: a scan records changes, a reprocessing of a fill marks
exactly the changes it started with as processed, and only after it succeeded. A failed or
killed reprocessing leaves them pending, so the next scan reports them again.

A fill that ``lumi_followup`` has not finished yet is its business, not the reprocessing's: its
changes stay pending ("waiting") until a follow-up run that processed it has finished (or a
successful one processed a later fill), so the two productions never start on the same new fills.
The reprocessing then finds the products up to date with the archive they were made from, or
re-runs what the change made stale. The watcher's log lists the fills that wait.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from include.core.backends import TaskCall
from include.core.errors import ParamError, StepError
from include.core.outcome import FAILED, SUCCESS, CallOutcome, failed_result
from include.core.paths import resolve_inside
from include.massi.filedb import FillDB, PendingChange
from include.massi.form import DEFAULT_SETTLE_S, MAX_SETTLE_S, REPROCESS_BACKENDS, YEAR_RANGE
from include.massi.scanner import scan
from include.settings import load_settings


def filldb_url(data_root: Path | None = None) -> str:
    """The ``HEP_FILLDB_URL`` setting, else a SQLite file in the data root (``lumi/massi_filldb.sqlite``)."""
    settings = load_settings()
    if settings.filldb_url:
        return settings.filldb_url
    root = data_root or settings.data_root
    (root / "lumi").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'lumi' / 'massi_filldb.sqlite'}"


def massi_layout(year: int, data_root: Path) -> tuple[Path, list[str]]:
    """The measurements folder of ``year`` and its experiment folders, from the lumi configuration."""
    from include.lumi.config import load_config

    cfg = load_config(year)
    root = cfg.massi_archive(data_root / "lumi" / cfg.data_folder, "", 0).parent
    return root, [folder.rstrip("/") for folder in cfg.massi_exp_folders]


def validate_watch_form(params: dict[str, Any]) -> dict[str, Any]:
    """The massi_watch DAG's first task: the years to scan (each with a lumi configuration) and the settle time."""
    from include.lumi.config import YEARS

    years = params.get("years")
    if not isinstance(years, list) or not years or any(isinstance(y, bool) or not isinstance(y, int) for y in years):
        raise ParamError("years", f"{years!r}: give one or more years")
    unknown = [y for y in years if y not in YEARS]
    if unknown:
        raise ParamError("years", f"{unknown} have no lumi configuration (known: {', '.join(map(str, YEARS))})")
    if len(set(years)) != len(years):
        raise ParamError("years", f"{years!r}: years repeat")
    settle = params.get("settle_seconds", DEFAULT_SETTLE_S)
    if isinstance(settle, bool) or not isinstance(settle, int | float) or not 0 <= settle <= MAX_SETTLE_S:
        raise ParamError("settle_seconds", f"{settle!r} must be a number of seconds in [0, {MAX_SETTLE_S}]")
    return {"years": sorted(years), "settle_seconds": float(settle)}


def validate_reprocess_form(params: dict[str, Any]) -> dict[str, Any]:
    """The lumi_reprocess DAG's first task: the backend, and overrides valid for every year a fill can have."""
    from include.core.forms import backend_choice, job_options
    from include.lumi.config import YEARS, check_overrides

    return {
        "backend": backend_choice(params, REPROCESS_BACKENDS),
        "config_overrides": check_overrides(params.get("config_overrides"), YEARS),
        **job_options(params),
    }


def reprocess_units(settings: dict[str, Any], groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One unit per fill to reprocess: its pending changes and how this run runs it."""
    return [{"group": group, **settings} for group in groups]


def reprocess_call(unit: dict[str, Any], run_id: str) -> TaskCall:
    """The lumi step graph for the fill of ``unit`` (the new archives make massi and what follows stale)."""
    return _process_call(unit["group"], unit.get("config_overrides"), unit["backend"])


def _process_call(
    group: dict[str, Any],
    config_overrides: dict[str, Any] | None,
    backend: str,
    data_root: str | None = None,
    output_root: str | None = None,
) -> TaskCall:
    config = {"year": int(group["year"]), **(config_overrides or {})}
    kwargs = {"fill": int(group["fill"]), "data_root": str(_roots(data_root)), "config": config, "backend": backend}
    if output_root:
        kwargs["output_root"] = output_root
    return TaskCall("include.lumi.tasks:process_fill", kwargs)


def reprocess_outcome(unit: dict[str, Any], result: dict[str, Any]) -> CallOutcome:
    """The verdict on a fill's reprocessing: the call failed, a step failed, or it succeeded."""
    fill = unit["group"]["fill"]
    if not result.get("ok"):
        return failed_result(result, where=f"fill {fill}: ")
    report = result["result"]
    if not report.get("ok"):
        failed = [s for s in report.get("steps", []) if s.get("state") == "failed"]
        permanent = bool(failed) and all(s.get("permanent") for s in failed)
        return CallOutcome(FAILED, f"reprocessing of fill {fill} failed: {failed}", permanent)
    return CallOutcome(SUCCESS, f"fill {fill}: ran {report.get('ran', [])}", value=report)


def reprocess_label(unit: dict[str, Any]) -> str:
    group = unit["group"]
    return f"fill {group['fill']} ({', '.join(group['experiments'])})"


def mark_reprocessed(group: dict[str, Any], db_url: str | None = None) -> dict[str, Any]:
    """Mark exactly the changes the fill's reprocessing started with as processed."""
    db = FillDB(db_url or filldb_url(_roots(None)))
    try:
        marked = db.mark_processed([PendingChange(**c) for c in group["changes"]])
    finally:
        db.close()
    return {"fill": group["fill"], "year": group["year"], "marked": marked}


def _roots(data_root: str | None) -> Path:
    settings = load_settings()
    return resolve_inside(data_root or settings.data_root, [settings.data_root], "data_root")


def scan_years(
    years: list[int], data_root: str | None = None, db_url: str | None = None, settle_seconds: float = DEFAULT_SETTLE_S
) -> dict[str, Any]:
    """Scan every year's folders; return the scan reports and every pending change by fill."""
    low, high = YEAR_RANGE
    if not years or any(not isinstance(y, int) or not low <= y <= high for y in years):
        raise ParamError("years", f"{years!r}: give one or more years between {low} and {high}")
    data = _roots(data_root)
    db = FillDB(db_url or filldb_url(data))
    try:
        reports = {}
        for year in years:
            root, folders = massi_layout(year, data)
            reports[str(year)] = scan(db, root, year, folders, settle_seconds).to_dict()
        ready, waiting = split_followed_up(group_by_fill(db.pending()))
        return {"scans": reports, "pending": ready, "waiting": waiting}
    finally:
        db.close()


def followed_up(year: int) -> Callable[[int], bool]:
    """Has ``lumi_followup`` finished a fill of ``year``? (A finished run processed it, or a
    successful run a later fill.) A fill it has not reached yet, or is working on now, is its own
    business. The run state is read once, here."""
    from include.lumi.planning import followed_up_fills, last_processed

    last, seen = last_processed(int(year)), followed_up_fills(int(year))
    return lambda fill: int(fill) in seen or (last is not None and int(fill) <= last)


def split_followed_up(groups: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(groups of fills the follow-up has finished: to reprocess, groups still waiting for it)."""
    finished = {year: followed_up(year) for year in {g["year"] for g in groups}}
    ready = [g for g in groups if finished[g["year"]](g["fill"])]
    return ready, [g for g in groups if g not in ready]


def pending_reprocessing(data_root: str | None = None, db_url: str | None = None) -> list[dict[str, Any]]:
    """The pending changes of every fill the follow-up has processed, by fill (the record of truth)."""
    db = FillDB(db_url or filldb_url(_roots(data_root)))
    try:
        return split_followed_up(group_by_fill(db.pending()))[0]
    finally:
        db.close()


def group_by_fill(changes: list[PendingChange]) -> list[dict[str, Any]]:
    """One entry per (year, fill) with its experiments and changes, ordered by fill."""
    groups: dict[tuple[int, int], dict[str, Any]] = {}
    for change in changes:
        group = groups.setdefault(
            (change.year, change.fill), {"year": change.year, "fill": change.fill, "experiments": [], "changes": []}
        )
        group["experiments"].append(change.experiment)
        group["changes"].append(change.to_dict())
    return [groups[k] for k in sorted(groups)]


def reprocess_fill(
    group: dict[str, Any],
    data_root: str | None = None,
    output_root: str | None = None,
    db_url: str | None = None,
    backend: str = "local",
    config_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Reprocess one fill for its pending Massi changes, then mark exactly those processed.

    The lumi step graph decides what runs: the new archive content makes ``massi`` stale and,
    through its outputs, every step downstream of it (lifetime, fits, model, their plots). The
    previous products are kept with a dated suffix. ``config_overrides`` must be those of the
    regular ``lumi_followup`` runs, or the steps that depend on them re-run as well.
    """
    from include.core.backends import run_call

    call = _process_call(group, config_overrides, backend, data_root, output_root)
    unit = {"group": group, "backend": backend, "config_overrides": config_overrides}
    outcome = reprocess_outcome(unit, {"ok": True, "result": run_call(call, backend)})
    if outcome.state == FAILED:
        raise StepError(outcome.message, permanent=outcome.permanent)
    marked = mark_reprocessed(group, db_url or filldb_url(_roots(data_root)))
    return {**marked, "ran": outcome.value.get("ran", [])}
