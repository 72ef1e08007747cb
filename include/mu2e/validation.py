"""Ensemble validation: native ensembles (counts within Poisson expectation, every (file, entry)
used once, nothing ended early) and art ensembles (audit of the end-of-job summaries, spec §9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from include.core import atomic
from include.mu2e import ledger
from include.mu2e.mixing import chi_square, read_ensemble
from include.mu2e.normalizations import COSMIC

DEFAULT_MIN_P = 1e-3


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def check_ensemble(campaign_dir: str | Path, ledger_url: str, min_p: float = DEFAULT_MIN_P) -> dict[str, Any]:
    """Counts per process against Poisson expectation, uniqueness of (file, entry), completeness."""
    campaign_dir = Path(campaign_dir)
    plan = _load(campaign_dir / "jobs.json")
    problems: list[str] = []
    observed: dict[str, int] = {}
    expected: dict[str, float] = {}
    keys: list[np.ndarray] = []
    file_ids: dict[str, int] = {}
    early = []
    for job in plan["jobs"]:
        counts = _load(campaign_dir / job["unit"] / "counts.json")
        if counts["ended_early"]:
            early.append({"job": job["index"], "shortfalls": counts["shortfalls"]})
        for p, n in counts["counts"].items():
            observed[p] = observed.get(p, 0) + n
            expected[p] = expected.get(p, 0.0) + counts["expected"][p]
        table, names = read_ensemble(
            campaign_dir / job["unit"] / job["output"], ["process_id", "source_file_id", "source_entry"]
        )
        global_ids = np.array([file_ids.setdefault(f, len(file_ids)) for f in names["source_files"]], dtype=np.int64)
        keys.append((global_ids[table["source_file_id"]] << 40) | table["source_entry"].astype(np.int64))
        by_process = {p: int((table["process_id"] == i).sum()) for i, p in enumerate(names["processes"])}
        if any(by_process.get(p, 0) != n for p, n in counts["counts"].items()):
            problems.append(f"job {job['index']}: file content differs from counts.json")
    every = np.sort(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
    duplicates = int((np.diff(every) == 0).sum())
    unique = int(every.size - duplicates)
    overlapping = ledger.overlaps(ledger.claims(ledger_url, plan["ensemble"]))
    poisson = {p: mu for p, mu in expected.items() if p != COSMIC}
    stats = chi_square({p: observed[p] for p in poisson}, poisson)
    if duplicates:
        problems.append(f"{duplicates} (file, entry) pairs used more than once")
    if overlapping:
        problems.append(f"{len(overlapping)} overlapping ledger ranges")
    if early:
        problems.append(f"jobs ran out of input: {early}")
    if COSMIC in observed and observed[COSMIC] != round(expected[COSMIC]):
        problems.append(f"cosmics: {observed[COSMIC]} events, expected exactly {round(expected[COSMIC])}")
    if stats["p_value"] < min_p:
        problems.append(f"counts per process are not Poisson-consistent: chi2 p = {stats['p_value']:.2e} < {min_p}")
    return {
        "ok": not problems,
        "problems": problems,
        "observed": observed,
        "expected": expected,
        "chi_square": stats,
        "unique_events": unique,
        "duplicates": duplicates,
        "ended_early": early,
        "ensemble": plan["ensemble"],
    }


def audit_art(campaign_dir: str | Path, tag: str) -> dict[str, Any]:
    """Spec §9 audit: Counts per dataset over all job logs vs the weights (written to audit.csv)."""
    from include.mu2e.art import audit

    campaign_dir = Path(campaign_dir)
    plan = _load(campaign_dir / "jobs.json")
    record = _load(campaign_dir / f"{tag}.json")
    logs, problems, exhausted = [], [], []
    for job in plan["jobs"]:
        log = campaign_dir / job["unit"] / "mu2e.log"
        if not log.is_file():
            problems.append(f"job {job['index']}: no mu2e.log")
            continue
        logs.append(log.read_text())
        counts = _load(campaign_dir / job["unit"] / "counts.json")
        if any("Cosmic" not in label for label in counts["exhausted"]):
            exhausted.append({"job": job["index"], "exhausted": counts["exhausted"]})
    csv, totals = audit(logs, record["weights"])
    atomic.write_text(campaign_dir / "audit.csv", csv)
    grand = sum(totals.values())
    expected = {p: grand * w for p, w in record["weights"].items()}
    stats = chi_square(totals, expected)
    if exhausted:
        problems.append(f"a non-cosmic dataset ran out first (livetime overstated): {exhausted}")
    return {
        "ok": not problems,
        "problems": problems,
        "observed": totals,
        "expected": expected,
        "chi_square": stats,
        "unique_events": grand,
        "duplicates": None,
        "ended_early": exhausted,
        "stage2": "art",
    }
