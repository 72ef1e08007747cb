"""Campaign summary: per (mass, run) which steps are done, events, files and failures."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from include.core import atomic
from include.core import manifest as mf
from include.core.fingerprint import hash_object
from include.core.steps import UnitContext
from include.darkbrem import PRODUCTION
from include.darkbrem.campaign import STEPS, campaign_dir
from include.darkbrem.chain import GRAPH, result_path

COLUMNS = ("unit", "mass_gev", "mass_mev", "run", "status", *STEPS, "library_events", "sim_events", "files", "error")


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def unit_status(unit: Mapping[str, Any]) -> dict[str, Any]:
    """Done / failed / not run per step (from manifests and step results, without hashing files)."""
    workdir = Path(unit["workdir"])
    ctx = UnitContext(PRODUCTION, unit["key"], workdir, dict(unit))
    row: dict[str, Any] = {
        "unit": unit["key"],
        "mass_gev": unit["mass_gev"],
        "mass_mev": unit["mass_mev"],
        "run": unit["run"],
    }
    errors, files = [], 0
    for step in STEPS:
        outputs = GRAPH.steps[step].outputs(ctx)
        done = GRAPH.manifest_path(ctx, step).is_file() and all(p.is_file() for p in outputs)
        result = _read(result_path(workdir, step))
        if done:
            row[step] = "done"
            files += len(outputs)
        elif result.get("state") == "failed":
            row[step] = "failed"
            errors.append(f"{step}: {result.get('error')}")
        else:
            row[step] = "not run"
    row["status"] = "ok" if all(row[s] == "done" for s in STEPS) else ("failed" if errors else "incomplete")
    row["library_events"] = (_read(result_path(workdir, "extract")).get("summary") or {}).get("events")
    row["sim_events"] = (_read(result_path(workdir, "simulate")).get("summary") or {}).get("events")
    row["files"] = files
    row["error"] = "; ".join(errors)[:2000]
    return row


def write_summary(campaign: Mapping[str, Any], units: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Write ``summary.json`` and ``summary.csv`` (with manifests) in the campaign folder; return the totals."""
    started = mf.utc_now()
    rows = [unit_status(u) for u in units]
    folder = campaign_dir(campaign)
    totals = {
        "campaign": campaign["campaign"],
        "units": len(rows),
        "ok": sum(r["status"] == "ok" for r in rows),
        "failed": [r["unit"] for r in rows if r["status"] == "failed"],
        "incomplete": [r["unit"] for r in rows if r["status"] == "incomplete"],
        "files": sum(r["files"] for r in rows),
        "library_events": sum(r["library_events"] or 0 for r in rows),
        "sim_events": sum(r["sim_events"] or 0 for r in rows),
    }
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    json_path, csv_path = folder / "summary.json", folder / "summary.csv"
    atomic.write_json(json_path, {"totals": totals, "units": rows})
    atomic.write_text(csv_path, table.getvalue())
    params = {k: campaign[k] for k in sorted(campaign) if k != "run_numbers"} | {"run_numbers": campaign["run_numbers"]}
    for path in (json_path, csv_path):
        record = mf.Manifest(
            production=PRODUCTION,
            step="summary",
            unit=campaign["campaign"],
            params=params,
            fingerprint=hash_object(params),
            outputs=mf.describe_files([path]),
            tools=mf.runtime_tools(),
            backend=campaign.get("backend", "local"),
            started=started,
            finished=mf.utc_now(),
        )
        mf.write_manifest(mf.manifest_path(path), record)
    return totals
