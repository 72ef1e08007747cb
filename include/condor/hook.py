"""``HTCondorHook``: schedd lookup with retries, submission, batched status queries.

Addresses come from the Airflow connection ``htcondor_default`` (``host`` = collector
``host:port``; extra ``{"schedd": name, "collector": host:port}``), else from the settings
``HEP_CONDOR_COLLECTOR`` / ``HEP_CONDOR_SCHEDD``, else from the local HTCondor config. No
connection is needed, so the hook also works from a terminal.

Only lookups and queries are retried (backoff 2, 6, 18 s by default). Submission is never
retried blindly: callers look for the deterministic batch name first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from include.condor import eventlog
from include.condor.eventlog import bindings
from include.condor.states import PROJECTION, ProcState, from_classad
from include.condor.submit import classad_string
from include.core import metrics

try:
    from airflow.sdk import BaseHook
except ImportError:  # plain terminal or HTCondor job without Airflow

    class BaseHook:  # type: ignore[no-redef]
        def __init__(self, **_kwargs: Any) -> None:
            pass


log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_BACKOFF = (2.0, 6.0, 18.0)


class CondorError(RuntimeError):
    """The pool could not be reached or refused a request."""


@dataclass(frozen=True)
class Submitted:
    """One submitted cluster."""

    cluster: int
    first_proc: int
    num_procs: int
    schedd: str

    @property
    def job_ids(self) -> list[str]:
        return [f"{self.cluster}.{p}" for p in range(self.first_proc, self.first_proc + self.num_procs)]


def cluster_constraint(clusters: Iterable[int]) -> str:
    """One constraint for many clusters."""
    ids = sorted({int(c) for c in clusters})
    if not ids:
        raise ValueError("no cluster ids")
    return " || ".join(f"ClusterId == {c}" for c in ids)


def split_job_id(job_id: str) -> tuple[int, int]:
    cluster, _, proc = job_id.partition(".")
    return int(cluster), int(proc or 0)


class HTCondorHook(BaseHook):
    """Talk to one schedd (thread-safe enough for ``asyncio.to_thread`` use)."""

    conn_name_attr = "htcondor_conn_id"
    default_conn_name = "htcondor_default"
    conn_type = "htcondor"
    hook_name = "HTCondor"

    def __init__(
        self,
        htcondor_conn_id: str | None = default_conn_name,
        *,
        collector: str | None = None,
        schedd: str | None = None,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.conn_id = htcondor_conn_id
        self.backoff = tuple(backoff)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._schedd: Any = None
        self._schedd_name = ""
        conn_collector, conn_schedd = self._from_connection() if collector is None or schedd is None else ("", "")
        settings_collector, settings_schedd = _from_settings()
        self.collector = collector if collector is not None else (conn_collector or settings_collector)
        self.schedd_name_hint = schedd if schedd is not None else (conn_schedd or settings_schedd)
        self.queries = 0  # schedd round trips of this hook (also counted in the metric hep.condor.schedd.<kind>)

    # -- addresses -----------------------------------------------------------------------
    def _from_connection(self) -> tuple[str, str]:
        if not self.conn_id:
            return "", ""
        try:
            conn = self.get_connection(self.conn_id)  # type: ignore[attr-defined]
        except Exception:  # no connection defined, or no Airflow at all
            return "", ""
        extra = conn.extra_dejson or {}
        host = conn.host or ""
        if host and conn.port:
            host = f"{host}:{conn.port}"
        return str(extra.get("collector") or host or ""), str(extra.get("schedd") or "")

    # -- retries -------------------------------------------------------------------------
    def retrying(self, what: str, func: Callable[[], T]) -> T:
        """Call ``func``; on failure forget the schedd, back off and try again."""
        delays = (*self.backoff, None)
        for attempt, delay in enumerate(delays, start=1):
            try:
                return func()
            except Exception as exc:
                with self._lock:
                    self._schedd = None
                if delay is None:
                    raise CondorError(f"{what} failed after {attempt} attempts: {exc}") from exc
                log.warning("%s failed (attempt %d): %s; retrying in %.0f s", what, attempt, exc, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _locate(self) -> Any:
        with self._lock:
            if self._schedd is not None:
                return self._schedd
            if self.collector or self.schedd_name_hint:
                coll = bindings().Collector(self.collector or None)
                ad = coll.locate(bindings().DaemonType.Schedd, self.schedd_name_hint or None)
                schedd = bindings().Schedd(ad)
                self._schedd_name = str(ad.get("Name", self.schedd_name_hint))
            else:
                schedd = bindings().Schedd()
                self._schedd_name = str(bindings().param.get("SCHEDD_HOST", "") or "") or "local schedd"
            self._schedd = schedd
            return schedd

    def get_schedd(self) -> Any:
        """The schedd object (located with retries)."""
        return self.retrying("schedd lookup", self._locate)

    @property
    def schedd_name(self) -> str:
        if not self._schedd_name:
            self.get_schedd()
        return self._schedd_name

    def ping(self) -> str:
        """Locate the schedd once, without retries; returns its name or raises."""
        self._locate()
        return self._schedd_name

    # -- submission ----------------------------------------------------------------------
    def submit(
        self, description: Mapping[str, str], itemdata: Sequence[Mapping[str, str]] | None = None, count: int = 1
    ) -> Submitted:
        """Submit one cluster in one transaction: one proc per item, else ``count`` procs."""
        schedd = self.get_schedd()
        sub = bindings().Submit(dict(description))
        if itemdata is not None:
            if not itemdata:
                raise ValueError("itemdata is empty")
            result = schedd.submit(sub, itemdata=iter([dict(i) for i in itemdata]))
        else:
            result = schedd.submit(sub, count=count)
        self._count("submit")
        return Submitted(int(result.cluster()), int(result.first_proc()), int(result.num_procs()), self.schedd_name)

    def find_batch(self, names: Collection[str], *, history: bool = False) -> dict[int, dict[str, int]]:
        """Clusters whose ``JobBatchName`` is one of ``names`` (queue, optionally history).

        Returns {cluster: {job id: item index}}; the item is ``HepItem`` (else the proc id).
        """
        if not names:
            return {}
        constraint = " || ".join(f"JobBatchName == {classad_string(n)}" for n in names)
        projection = ["ClusterId", "ProcId", "JobBatchName", "HepItem"]
        ads = self._query(constraint, projection)
        if history:
            ads += self._history(constraint, projection)
        found: dict[int, dict[str, int]] = {}
        for ad in ads:
            item = ad.get("HepItem", ad["ProcId"])
            found.setdefault(int(ad["ClusterId"]), {})[f"{ad['ClusterId']}.{ad['ProcId']}"] = int(item)
        return {c: dict(sorted(p.items(), key=lambda kv: split_job_id(kv[0]))) for c, p in sorted(found.items())}

    # -- queries -------------------------------------------------------------------------
    def _count(self, kind: str) -> None:
        """One schedd round trip (submit, query, history, act)."""
        self.queries += 1
        metrics.incr(f"condor.schedd.{kind}")

    def _query(self, constraint: str, projection: list[str]) -> list[dict[str, Any]]:
        def call() -> list[dict[str, Any]]:
            self._count("query")
            return [dict(ad) for ad in self._locate().query(constraint, projection)]

        return self.retrying("schedd query", call)

    def _history(self, constraint: str, projection: list[str], match: int = -1) -> list[dict[str, Any]]:
        def call() -> list[dict[str, Any]]:
            self._count("history")
            return [dict(ad) for ad in self._locate().history(constraint, projection, match=match)]

        return self.retrying("schedd history", call)

    def query(self, clusters: Iterable[int], projection: list[str] | None = None) -> list[dict[str, Any]]:
        """Queue ads of many clusters with one constraint."""
        return self._query(cluster_constraint(clusters), projection or PROJECTION)

    def history(self, clusters: Iterable[int], projection: list[str] | None = None) -> list[dict[str, Any]]:
        """History ads of many clusters with one constraint."""
        return self._history(cluster_constraint(clusters), projection or PROJECTION)

    def job_states(self, job_ids: Collection[str]) -> dict[str, ProcState]:
        """States of ``job_ids``: the queue first, then history for jobs that left it.

        Ids found in neither are left out (the caller decides what that means).
        """
        wanted = set(job_ids)
        clusters = {split_job_id(j)[0] for j in wanted}
        states: dict[str, ProcState] = {}
        for ad in self.query(clusters):
            st = from_classad(ad)
            if st.job_id in wanted:
                states[st.job_id] = st
        missing = wanted - set(states)
        if missing:
            for ad in self.history({split_job_id(j)[0] for j in missing}):
                st = from_classad(ad)
                if st.job_id in missing and st.job_id not in states:
                    states[st.job_id] = st
        return states

    def read_event_log(self, path: str | Path, clusters: Collection[int] | None = None) -> dict[str, ProcState]:
        return eventlog.read_event_log(path, clusters)

    # -- actions -------------------------------------------------------------------------
    def act(self, action: str, job_ids: Collection[str], reason: str | None = None) -> dict[str, Any]:
        """``Hold``, ``Release``, ``Remove``… on the given job ids (``"cluster.proc"``)."""
        if not job_ids:
            return {}
        job_action = getattr(bindings().JobAction, action)
        spec = sorted(job_ids, key=split_job_id)

        def call() -> dict[str, Any]:
            self._count("act")
            result = self._locate().act(job_action, spec, reason)
            return dict(result) if isinstance(result, bindings().classad.ClassAd) else {}

        return self.retrying(f"schedd {action}", call)

    def remove(self, job_ids: Collection[str], reason: str = "removed by Airflow") -> dict[str, Any]:
        return self.act("Remove", job_ids, reason)

    def release(self, job_ids: Collection[str], reason: str = "released by Airflow hold policy") -> dict[str, Any]:
        return self.act("Release", job_ids, reason)

    def hold(self, job_ids: Collection[str], reason: str = "held by Airflow") -> dict[str, Any]:
        return self.act("Hold", job_ids, reason)


def _from_settings() -> tuple[str, str]:
    try:
        from include.settings import load_settings

        settings = load_settings()
    except Exception:
        return "", ""
    return settings.condor_collector, settings.condor_schedd
