"""The step graph: each production declares its steps once; one implementation decides what runs.

A step of a unit runs when

* one of its declared outputs is missing,
* its manifest is missing or its fingerprint differs (inputs, parameters, step version or an
  upstream step's outputs changed), or
* it is forced. Forcing a step forces every step downstream of it; ``"all"`` forces everything.

Steps of one unit never run concurrently (a lock file in the unit folder; see :func:`unit_lock` for
how long a caller waits for it). Outputs are written by
the step itself through :mod:`include.core.atomic`; the runner checks they exist and writes the
step's manifest last, so a killed step is never taken as done.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from include.core import manifest as mf
from include.core.errors import ConfigError, ParamError, StepError, UnitBusy, is_permanent
from include.core.fingerprint import file_fingerprint, hash_object

log = logging.getLogger(__name__)

FORCE_ALL = "all"
FORCE_NONE = "none"


@dataclass
class UnitContext:
    """Everything a step needs to know about the unit it works on."""

    production: str
    unit: str
    workdir: Path
    params: dict[str, Any] = field(default_factory=dict)
    backend: str = "local"

    def path(self, name: str) -> Path:
        """A product path inside the unit folder."""
        return self.workdir / name


def _no_files(_ctx: UnitContext) -> list[Path]:
    return []


def _all_params(ctx: UnitContext) -> Mapping[str, Any]:
    return ctx.params


def _always(_ctx: UnitContext) -> bool:
    return True


@dataclass(frozen=True)
class Step:
    """One step: what it needs, what it writes and how.

    ``run`` writes the files ``outputs`` names (atomically) and may return a JSON-able summary.
    ``inputs`` names external input files; ``params`` selects the parameters that matter to the
    step (all by default). Bump ``version`` when the step's code changes its results.
    ``backup_on_rerun`` renames existing outputs to ``<stem>_<YYYYMMDD><suffix>`` before a re-run.
    """

    name: str
    run: Callable[[UnitContext], Any]
    outputs: Callable[[UnitContext], list[Path]]
    requires: tuple[str, ...] = ()
    inputs: Callable[[UnitContext], list[Path]] = _no_files
    params: Callable[[UnitContext], Mapping[str, Any]] = _all_params
    enabled: Callable[[UnitContext], bool] = _always
    version: str = "1"
    backup_on_rerun: bool = False


class Reason(StrEnum):
    """Why a step runs or does not."""

    FRESH = "fresh"
    FORCED = "forced"
    MISSING_OUTPUT = "missing output"
    NO_MANIFEST = "no manifest"
    CHANGED = "inputs or parameters changed"
    UPSTREAM = "upstream step will re-run"
    DISABLED = "disabled"
    BLOCKED = "upstream step failed or is disabled"


@dataclass
class StepResult:
    """What happened to one step of one unit."""

    step: str
    state: str  # ran | fresh | skipped | failed
    reason: str
    seconds: float = 0.0
    summary: Any = None
    error: str | None = None
    permanent: bool = False  # a failure a retry cannot fix (errors.is_permanent of what it raised)


@dataclass
class UnitReport:
    """What happened to a unit; JSON-able through :meth:`to_dict`."""

    production: str
    unit: str
    results: list[StepResult] = field(default_factory=list)

    @property
    def failed(self) -> list[StepResult]:
        return [r for r in self.results if r.state == "failed"]

    @property
    def ran(self) -> list[str]:
        return [r.step for r in self.results if r.state == "ran"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "production": self.production,
            "unit": self.unit,
            "ok": not self.failed,
            "steps": [r.__dict__ for r in self.results],
        }


class StepGraph:
    """The steps of one production, validated and topologically ordered."""

    def __init__(self, production: str, steps: Iterable[Step], aliases: Mapping[str, Iterable[str]] = ()):
        self.production = production
        self.steps: dict[str, Step] = {}
        for step in steps:
            if step.name in self.steps or step.name in (FORCE_ALL, FORCE_NONE):
                raise ConfigError(f"{production}: step name {step.name!r} is duplicated or reserved")
            self.steps[step.name] = step
        for step in self.steps.values():
            unknown = set(step.requires) - set(self.steps)
            if unknown:
                raise ConfigError(f"{production}: step {step.name!r} requires unknown {sorted(unknown)}")
        try:
            self.order: list[str] = list(
                TopologicalSorter({s.name: set(s.requires) for s in self.steps.values()}).static_order()
            )
        except CycleError as exc:
            raise ConfigError(f"{production}: steps form a cycle: {exc.args[1]}") from exc
        self.aliases = {k: tuple(v) for k, v in dict(aliases).items()}

    @property
    def force_choices(self) -> list[str]:
        """Values a ``force`` parameter may take (for the Param enum)."""
        return [FORCE_NONE, FORCE_ALL, *self.order, *[a for a in self.aliases if a not in self.steps]]

    def downstream(self, names: Iterable[str]) -> set[str]:
        """``names`` and every step that depends on them, transitively."""
        result = set(names)
        for name in self.order:  # topological: parents are decided first
            if set(self.steps[name].requires) & result:
                result.add(name)
        return result

    def forced(self, force: str | Iterable[str] | None) -> set[str]:
        """The steps a ``force`` value forces, downstream closure included."""
        if force is None:
            return set()
        names = [force] if isinstance(force, str) else list(force)
        if FORCE_ALL in names:
            return set(self.steps)
        chosen: set[str] = set()
        for name in names:
            if name in (FORCE_NONE, ""):
                continue
            if name in self.aliases:
                chosen.update(self.aliases[name])
            elif name in self.steps:
                chosen.add(name)
            else:
                raise ParamError("force", f"{name!r} is not one of {', '.join(self.force_choices)}")
        return self.downstream(chosen)

    # -- freshness ---------------------------------------------------------------------------

    def manifest_path(self, ctx: UnitContext, name: str) -> Path:
        return ctx.workdir / f"{name}{mf.SUFFIX}"

    def fingerprint(self, ctx: UnitContext, name: str) -> tuple[str, list[dict[str, Any]]]:
        """Fingerprint of a step's inputs, parameters, version and upstream outputs."""
        step = self.steps[name]
        inputs = [file_fingerprint(p) for p in step.inputs(ctx)]
        upstream = {}
        for parent in step.requires:
            record = mf.read_manifest(self.manifest_path(ctx, parent))
            upstream[parent] = record.output_identities() if record else None
        material = {
            "step": name,
            "version": step.version,
            "params": dict(step.params(ctx)),
            "inputs": [f.identity() for f in inputs],
            "upstream": upstream,
        }
        return hash_object(material), [f.to_dict() for f in inputs]

    def freshness(self, ctx: UnitContext, name: str) -> Reason:
        """Whether a step's products are up to date (ignoring force)."""
        step = self.steps[name]
        if any(not p.exists() for p in step.outputs(ctx)):
            return Reason.MISSING_OUTPUT
        record = mf.read_manifest(self.manifest_path(ctx, name))
        if record is None:
            return Reason.NO_MANIFEST
        if record.fingerprint != self.fingerprint(ctx, name)[0]:
            return Reason.CHANGED
        return Reason.FRESH

    def plan(self, ctx: UnitContext, force: str | Iterable[str] | None = None) -> dict[str, Reason]:
        """What :meth:`run_unit` would do, step by step, without running anything."""
        forced = self.forced(force)
        plan: dict[str, Reason] = {}
        for name in self.order:
            step = self.steps[name]
            parents = [plan[p] for p in step.requires]
            if not step.enabled(ctx):
                plan[name] = Reason.DISABLED
            elif any(p in (Reason.DISABLED, Reason.BLOCKED) for p in parents):
                plan[name] = Reason.BLOCKED
            elif name in forced:
                plan[name] = Reason.FORCED
            else:
                own = self.freshness(ctx, name)
                if own is Reason.FRESH and any(p is not Reason.FRESH for p in parents):
                    own = Reason.UPSTREAM
                plan[name] = own
        return plan

    # -- running -----------------------------------------------------------------------------

    def run_unit(
        self,
        ctx: UnitContext,
        force: str | Iterable[str] | None = None,
        *,
        only: Iterable[str] | None = None,
        raise_on_failure: bool = True,
    ) -> UnitReport:
        """Run every stale or forced step of one unit in dependency order.

        ``only`` restricts the run to some steps (their upstream must then be fresh).
        A failing step stops its downstream steps; independent branches still run.
        """
        forced = self.forced(force)
        selected = set(self.order) if only is None else set(only)
        unknown = selected - set(self.steps)
        if unknown:
            raise ParamError("only", f"unknown steps {sorted(unknown)}")
        report = UnitReport(self.production, ctx.unit)
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        with unit_lock(ctx.workdir):
            states = {} if only is None else self._outside_states(ctx, selected)
            for name in self.order:
                if name not in selected:
                    continue
                result = self._run_one(ctx, name, forced, states)
                states[name] = result.state
                report.results.append(result)
        if raise_on_failure and report.failed:
            details = "; ".join(f"{r.step}: {r.error}" for r in report.failed)
            permanent = all(r.permanent for r in report.failed)
            raise StepError(f"{self.production} unit {ctx.unit}: {details}", permanent=permanent)
        return report

    def _outside_states(self, ctx: UnitContext, selected: set[str]) -> dict[str, str]:
        """States of the steps outside a selection, as their products show them (no fingerprinting).

        ``skipped``: the step or one of its ancestors is disabled; ``failed``: a product is missing;
        ``fresh`` otherwise. A selected step whose parent is skipped or failed is then blocked.
        """
        states: dict[str, str] = {}
        for name in self.order:
            if name in selected:
                continue
            step = self.steps[name]
            if not step.enabled(ctx) or any(states.get(p) == "skipped" for p in step.requires):
                states[name] = "skipped"
            elif any(not p.exists() for p in step.outputs(ctx)):
                states[name] = "failed"
            else:
                states[name] = "fresh"
        return states

    def _run_one(self, ctx: UnitContext, name: str, forced: set[str], states: Mapping[str, str]) -> StepResult:
        step = self.steps[name]
        if not step.enabled(ctx):
            return StepResult(name, "skipped", Reason.DISABLED)
        if any(states.get(p) in ("failed", "skipped") for p in step.requires):
            return StepResult(name, "skipped", Reason.BLOCKED)
        reason = Reason.FORCED if name in forced else self.freshness(ctx, name)
        if reason is Reason.FRESH:
            return StepResult(name, "fresh", reason)
        fingerprint, inputs = self.fingerprint(ctx, name)
        if step.backup_on_rerun:
            backup_outputs(step.outputs(ctx))
        started, t0 = mf.utc_now(), time.monotonic()
        log.info("%s %s: running %s (%s)", self.production, ctx.unit, name, reason)
        try:
            summary = step.run(ctx)
            missing = [str(p) for p in step.outputs(ctx) if not p.exists()]
            if missing:
                raise StepError(f"step {name} did not write {', '.join(missing)}")
        except Exception as exc:
            log.exception("%s %s: step %s failed", self.production, ctx.unit, name)
            self.manifest_path(ctx, name).unlink(missing_ok=True)
            return StepResult(
                name,
                "failed",
                reason,
                time.monotonic() - t0,
                error=f"{type(exc).__name__}: {exc}",
                permanent=is_permanent(exc),
            )
        record = mf.Manifest(
            production=self.production,
            step=name,
            unit=ctx.unit,
            params=dict(step.params(ctx)),
            fingerprint=fingerprint,
            inputs=inputs,
            outputs=mf.describe_files(step.outputs(ctx)),
            tools=mf.runtime_tools(),
            backend=ctx.backend,
            started=started,
            finished=mf.utc_now(),
        )
        mf.write_manifest(self.manifest_path(ctx, name), record)
        return StepResult(name, "ran", reason, time.monotonic() - t0, summary=summary)


# How long unit_lock waits for a busy unit before raising UnitBusy; None waits as long as it takes.
_LOCK_PATIENCE: contextvars.ContextVar[float | None] = contextvars.ContextVar("unit_lock_patience", default=None)
_LOCK_POLL_S = 0.5
_HELD: set[tuple[str, int]] = set()  # (lock file, thread) held by this process


@contextlib.contextmanager
def lock_patience(seconds: float | None) -> Iterator[None]:
    """Within this block, :func:`unit_lock` gives up on a busy unit after ``seconds`` (UnitBusy).

    A scheduler's task uses it so that waiting for another production's work on the same unit
    does not hold a worker slot: the task is rescheduled instead (``include.core.dagkit``).
    """
    token = _LOCK_PATIENCE.set(seconds)
    try:
        yield
    finally:
        _LOCK_PATIENCE.reset(token)


@contextlib.contextmanager
def unit_lock(workdir: Path, *, patience: float | None = None) -> Iterator[None]:
    """Exclusive lock on a unit folder: steps of one unit never run concurrently.

    Re-entrant within a thread. Waits for the lock as long as it takes, unless a patience is given
    here or by :func:`lock_patience`: then a unit still busy after that many seconds raises
    :class:`UnitBusy`, naming the holder (pid, host and the time it took the lock).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    path = (workdir / ".lock").resolve()
    key = (str(path), threading.get_ident())
    if key in _HELD:
        yield
        return
    limit = patience if patience is not None else _LOCK_PATIENCE.get()
    with open(path, "a+") as handle:
        _acquire(handle, path, limit)
        _HELD.add(key)
        try:
            handle.truncate(0)
            handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {mf.utc_now()}\n")
            handle.flush()
            yield
        finally:
            _HELD.discard(key)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _acquire(handle: Any, path: Path, limit: float | None) -> None:
    if limit is None:
        fcntl.flock(handle, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + limit
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise UnitBusy(path.parent, f"held by {holder}") from None
            time.sleep(_LOCK_POLL_S)


def backup_outputs(paths: Iterable[Path], when: datetime | None = None) -> list[Path]:
    """Rename existing ``paths`` to ``<stem>_<YYYYMMDD><suffix>`` (the legacy backup naming).

    A second backup on the same day gets ``_<YYYYMMDD>_<HHMMSS>``; nothing is ever overwritten.
    """
    when = when or datetime.now(UTC)
    moved = []
    for path in paths:
        if not path.exists():
            continue
        target = path.with_name(f"{path.stem}_{when:%Y%m%d}{path.suffix}")
        if target.exists():
            target = path.with_name(f"{path.stem}_{when:%Y%m%d_%H%M%S}{path.suffix}")
        n = 1
        while target.exists():
            target = path.with_name(f"{path.stem}_{when:%Y%m%d_%H%M%S}_{n}{path.suffix}")
            n += 1
        path.rename(target)
        moved.append(target)
    return moved
