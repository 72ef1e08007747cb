"""Which fills a run processes: the beam-mode table, the selection rules and new-fill detection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from include.core import atomic
from include.core.errors import InputFileError, ParamError
from include.core.forms import backend_choice, choice, job_options
from include.core.paths import resolve_inside
from include.lumi import form
from include.lumi.config import YEARS, check_overrides, load_config
from include.lumi.fills import select_fills
from include.lumi.graph import BACKENDS
from include.lumi.inputs import load_fill_table
from include.settings import load_settings


def validate_form(params: dict[str, Any]) -> dict[str, Any]:
    """The lumi_followup DAG's first task: check the trigger form; return the run's settings.

    Empty ``fills`` (None or ``[]``) means every new fill; empty ``config_overrides`` none.
    """
    from include.lumi.graph import FORCE_CHOICES

    fills = params.get("fills") or []
    if not isinstance(fills, list) or any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in fills):
        raise ParamError("fills", f"{fills!r}: give fill numbers (positive integers)")
    repeated = sorted({f for f in fills if fills.count(f) > 1})
    if repeated:
        raise ParamError("fills", f"fill numbers repeat: {repeated}")
    year = choice(params, "year", YEARS, form.DEFAULT_YEAR)
    split = params.get("split") or form.DEFAULT_SPLIT
    if isinstance(split, bool) or not isinstance(split, int) or split < 0:
        raise ParamError("split", f"{split!r} must be an integer >= 0")
    require_massi = params.get("require_massi", form.DEFAULT_REQUIRE_MASSI)
    if not isinstance(require_massi, bool):
        raise ParamError("require_massi", f"{require_massi!r} must be true or false")
    overrides = check_overrides(params.get("config_overrides"), [year])
    return {
        "fills": sorted(fills),
        "split": split,
        "force": choice(params, "force", FORCE_CHOICES, "none"),
        "backend": backend_choice(params, BACKENDS),
        "require_massi": require_massi,
        "config": {"year": year, **overrides},
        **job_options(params),
    }


def selected_fills(config: dict[str, Any], data_root: str | None = None, after: int | None = None) -> list[int]:
    """Fills passing §2.1 (sorted), optionally only those after fill ``after``."""
    settings = load_settings()
    root = resolve_inside(data_root or settings.data_root, [settings.data_root], "data_root")
    overrides = {k: v for k, v in config.items() if k != "year"}
    cfg = load_config(int(config.get("year", form.DEFAULT_YEAR)), overrides)
    table, _ = load_fill_table(Path(root) / "lumi" / cfg.data_folder, cfg.year)
    fills = [int(f) for f in select_fills(table, cfg)["fill"]]
    return [f for f in fills if after is None or f > after]


def highest_complete(config: dict[str, Any], fills: list[int], data_root: str | None = None) -> int | None:
    """The highest of ``fills`` that is complete (a later fill has started); None if none is.

    An ongoing fill stays "new" so that the next run processes it again with its full data.
    """
    settings = load_settings()
    root = resolve_inside(data_root or settings.data_root, [settings.data_root], "data_root")
    cfg = load_config(int(config.get("year", form.DEFAULT_YEAR)), {k: v for k, v in config.items() if k != "year"})
    table, _ = load_fill_table(Path(root) / "lumi" / cfg.data_folder, cfg.year)
    complete = [f for f in fills if f in table.index and bool(table.loc[f, "flag_complete"])]
    return max(complete) if complete else None


def split_chunks(items: list[int], k: int) -> list[list[int]]:
    """Legacy ``--split K``: ``array_split(items, n // K)`` so every chunk holds >= K items; n < K: one chunk."""
    if not items:
        return []
    if k <= 0:
        return [[i] for i in items]
    return batches(items, max(1, len(items) // k))


def batches(items: list[int], max_len: int) -> list[list[int]]:
    """Split ``items`` into at most ``max_len`` batches of near-equal size (keeps order)."""
    if not items:
        return []
    n = min(len(items), max_len)
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        stop = start + size + (1 if i < extra else 0)
        out.append(items[start:stop])
        start = stop
    return out


def _state_file(year: int) -> Path:
    return load_settings().output_root / "lumi_followup" / "state" / f"last_processed_{int(year)}.json"


def last_processed(year: int) -> int | None:
    """The highest fill of the last successful run of ``year`` (None before the first)."""
    path = _state_file(year)
    try:
        return int(json.loads(path.read_text())["fill"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputFileError(path, f"corrupt run state ({exc}); delete it to reprocess every fill") from exc


def remember_processed(year: int, fill: int, run_id: str) -> None:
    """Record ``fill`` as processed by a successful run (never moves backwards)."""
    previous = last_processed(year)
    if previous is None or fill > previous:
        atomic.write_json(_state_file(year), {"fill": int(fill), "run_id": run_id})


def _finished_file(year: int) -> Path:
    return load_settings().output_root / "lumi_followup" / "state" / f"followed_up_{int(year)}.json"


def followed_up_fills(year: int) -> set[int]:
    """Every fill of ``year`` that a finished follow-up run has processed (whatever its outcome)."""
    path = _finished_file(year)
    try:
        return {int(f) for f in json.loads(path.read_text())["fills"]}
    except FileNotFoundError:
        return set()
    except (ValueError, KeyError, TypeError) as exc:
        raise InputFileError(path, f"corrupt run state ({exc}); delete it and run the follow-up again") from exc


def record_run(config: dict[str, Any], fills: list[int], failed: bool, run_id: str) -> int | None:
    """At the end of a follow-up run: its fills are followed up (the Massi watcher may now announce
    their changes), and, when none failed, the highest complete one is the last processed fill.
    Returns that fill (None when the run does not move it)."""
    year = int(config.get("year", form.DEFAULT_YEAR))
    if fills:
        seen = sorted(followed_up_fills(year) | {int(f) for f in fills})
        atomic.write_json(_finished_file(year), {"fills": seen, "run_id": run_id})
    done = highest_complete(config, fills) if fills and not failed else None
    if done is not None:
        remember_processed(year, done, run_id)
    return done
