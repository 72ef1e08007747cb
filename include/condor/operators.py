"""``HTCondorJobOperator``: submit one cluster in the worker, defer to the trigger, check every proc.

Crash safety: the job record (schedd, cluster ids, job ids) is written to ``task_state_store``
with ``NEVER_EXPIRE`` before deferring. A retry reads it and reconnects to unfinished procs
instead of submitting again; if the record is missing (a crash between submit and write), the
deterministic batch names of earlier tries are looked up in the queue first. When the stored
procs ended and some failed, only the failed items are submitted again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from include.condor.files import TAIL_LINES, tail
from include.condor.hook import HTCondorHook, Submitted, split_job_id
from include.condor.links import STATE_KEY, HTCondorJobLink
from include.condor.policy import MEMORY_PERIODIC_HOLD, HoldPolicy
from include.condor.states import ProcState
from include.condor.submit import JobSpec, batch_name, build_submit, cluster_template, items_for_argvs
from include.condor.triggers import HTCondorJobTrigger


class HTCondorJobOperator(BaseOperator):
    """Run ``executable`` with ``arguments`` (argv list) as HTCondor job(s), deferring while they run.

    ``proc_arguments`` (one argv per proc, optional ``proc_vars`` dicts usable as ``$(name)``
    in ``submit_extra``) makes one cluster of many procs in one transaction. Files: with
    ``shared_fs=False`` (default) inputs are transferred from ``workdir`` and outputs back
    into it; ``container_image`` runs a SIF in the container universe. ``hold_on_memory_exceeded``
    adds a ``periodic_hold`` for procs using more memory than requested (for pools that do not
    enforce it); ``hold_policy`` decides what happens to held procs. ``expected_outputs``
    (paths relative to ``workdir``, ``{item}`` = proc item index) must exist after success.
    Returns a summary dict.
    """

    template_fields: Sequence[str] = (
        "executable",
        "arguments",
        "proc_arguments",
        "proc_vars",
        "environment",
        "input_files",
        "output_files",
        "workdir",
        "container_image",
        "expected_outputs",
    )
    ui_color = "#c9e4f5"
    operator_extra_links = (HTCondorJobLink(),)

    def __init__(
        self,
        *,
        executable: str,
        arguments: Sequence[str] = (),
        proc_arguments: Sequence[Sequence[str]] | None = None,
        proc_vars: Sequence[Mapping[str, str]] | None = None,
        workdir: str | None = None,
        request_cpus: int = 1,
        request_memory_mb: int = 512,
        environment: Mapping[str, str] | None = None,
        input_files: Sequence[str] = (),
        output_files: Sequence[str] | None = None,
        shared_fs: bool = False,
        container_image: str | None = None,
        submit_extra: Mapping[str, str] | None = None,
        hold_policy: HoldPolicy | Mapping[str, Any] | str | None = None,
        hold_on_memory_exceeded: bool = True,
        htcondor_conn_id: str = HTCondorHook.default_conn_name,
        poll_interval: float = 10.0,
        max_poll_failures: int = 5,
        tail_lines: int = TAIL_LINES,
        expected_outputs: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.executable = executable
        self.arguments = list(arguments)
        self.proc_arguments = [list(a) for a in proc_arguments] if proc_arguments is not None else None
        self.proc_vars = [dict(v) for v in proc_vars] if proc_vars is not None else None
        self.workdir = workdir
        self.request_cpus = request_cpus
        self.request_memory_mb = request_memory_mb
        self.environment = dict(environment or {})
        self.input_files = list(input_files)
        self.output_files = list(output_files) if output_files is not None else None
        self.shared_fs = shared_fs
        self.container_image = container_image
        self.submit_extra = dict(submit_extra or {})
        self.hold_policy = HoldPolicy.coerce(hold_policy)
        self.hold_on_memory_exceeded = hold_on_memory_exceeded
        self.htcondor_conn_id = htcondor_conn_id
        self.poll_interval = poll_interval
        self.max_poll_failures = max_poll_failures
        self.tail_lines = tail_lines
        self.expected_outputs = list(expected_outputs)
        self._job: dict[str, Any] | None = None

    # -- helpers ---------------------------------------------------------------------------
    def hook(self, job: Mapping[str, Any] | None = None) -> HTCondorHook:
        if job:
            return HTCondorHook(None, collector=job.get("collector", ""), schedd=job.get("schedd_hint", ""))
        return HTCondorHook(self.htcondor_conn_id)

    def _names(self, context: Any) -> tuple[str, list[str]]:
        ti = context["ti"]
        map_index = ti.map_index if ti.map_index is not None else -1
        try_number = int(ti.try_number or 1)
        base = (self.dag_id, self.task_id, ti.run_id, map_index)
        names = [batch_name(*base, try_number=t) for t in range(1, try_number + 1)]
        return names[-1], names

    def _workdir(self, batch: str) -> Path:
        if self.workdir:
            return Path(self.workdir).expanduser().resolve()
        from include.settings import load_settings

        return load_settings().output_root / "_condor" / batch.rsplit(".t", 1)[0]

    def _spec(self, memory_mb: int) -> JobSpec:
        extra = dict(MEMORY_PERIODIC_HOLD) if self.hold_on_memory_exceeded else {}
        extra.update(self.submit_extra)
        if self.container_image:
            extra.setdefault("transfer_executable", "False")
        return JobSpec(
            executable=self.executable,
            arguments=self.arguments,
            request_cpus=self.request_cpus,
            request_memory_mb=memory_mb,
            environment=self.environment,
            input_files=self.input_files,
            output_files=self.output_files,
            shared_fs=self.shared_fs,
            container_image=self.container_image,
            extra=extra,
        )

    def _item_count(self) -> int:
        return 1 if self.proc_arguments is None else len(self.proc_arguments)

    def _store(self, context: Any, job: dict[str, Any]) -> None:
        store = context.get("task_state_store")
        if store is None:
            self.log.warning("task_state_store is not available: a retry cannot reconnect to cluster(s)")
            return
        from airflow.sdk.execution_time.context import NEVER_EXPIRE

        store.set(STATE_KEY, job, retention=NEVER_EXPIRE)

    def _submit(
        self, hook: HTCondorHook, batch: str, workdir: Path, item_ids: Sequence[int], memory_mb: int
    ) -> tuple[Submitted, dict[str, int]]:
        """Submit the given items as one cluster; returns it and {job id: item index}.

        Every proc carries its item index as ``HepItem``, so a cluster found again by its
        batch name maps back to its items.
        """
        (workdir / "out").mkdir(parents=True, exist_ok=True)
        desc = build_submit(self._spec(memory_mb), workdir=workdir, batch=batch)
        if self.proc_arguments is None:
            desc["My.HepItem"] = "0"
            sub = hook.submit(desc)
        else:
            items = items_for_argvs(self.proc_arguments, self.proc_vars)
            template = cluster_template(desc)
            template["My.HepItem"] = "$(hep_item)"
            sub = hook.submit(template, itemdata=[{**items[i], "hep_item": str(i)} for i in item_ids])
        return sub, dict(zip(sub.job_ids, item_ids, strict=True))

    def _resubmit(
        self, context: Any, job: dict[str, Any], job_ids: list[str], batch: str, memory_mb: int, why: str
    ) -> dict[str, Any]:
        """Submit the items of ``job_ids`` again as a new cluster; returns the stored job record."""
        item_ids = sorted({job["jobs"][j] for j in job_ids})
        sub, mapping = self._submit(self.hook(job), batch, Path(job["workdir"]), item_ids, memory_mb)
        jobs = {j: i for j, i in job["jobs"].items() if i not in item_ids}
        jobs.update(mapping)
        job = {**job, "jobs": jobs, "memory_mb": memory_mb, "batch": batch}
        self._store(context, job)
        self.log.warning(
            "Resubmitted %d item(s) (%s) as cluster %d on schedd %s with request_memory %d MB",
            len(item_ids),
            why,
            sub.cluster,
            sub.schedd,
            memory_mb,
        )
        return job

    # -- execute ---------------------------------------------------------------------------
    def execute(self, context: Any) -> Any:
        batch, names = self._names(context)
        store = context.get("task_state_store")
        saved = store.get(STATE_KEY) if store is not None else None
        hook = self.hook()
        if saved:
            job = dict(saved)
            states = self.hook(job).job_states(list(job["jobs"]))
            unfinished = [j for j in job["jobs"] if j in states and not states[j].final]
            if unfinished:
                self.log.info(
                    "Reconnecting to cluster(s) %s on schedd %s (%d unfinished procs); not submitting again",
                    _clusters(job),
                    job["schedd"],
                    len(unfinished),
                )
                return self._defer(job)
            if job["jobs"] and all(j in states and states[j].succeeded for j in job["jobs"]):
                self.log.info("Cluster(s) %s already succeeded; not submitting again", _clusters(job))
                return self._result(job)
            failed = [j for j in job["jobs"] if not (j in states and states[j].succeeded)]
            self.log.warning(
                "Stored cluster(s) %s: %d of %d proc(s) did not succeed; submitting only those again",
                _clusters(job),
                len(failed),
                len(job["jobs"]),
            )
            job = self._resubmit(context, job, failed, batch, self.request_memory_mb, "retry of failed procs")
            self._after_submit(context, job)
            return self._defer(job)
        else:
            lost = hook.find_batch(names)
            if lost:
                job = self._adopt(hook, batch, lost)
                self.log.info(
                    "Found cluster(s) %s with batch name(s) %s in the queue; reconnecting",
                    ",".join(map(str, lost)),
                    names,
                )
                self._store(context, job)
                return self._defer(job)
        workdir = self._workdir(batch)
        self._preflight(workdir)
        sub, mapping = self._submit(hook, batch, workdir, range(self._item_count()), self.request_memory_mb)
        job = {
            "schedd": sub.schedd,
            "schedd_hint": hook.schedd_name_hint or "",
            "collector": hook.collector or "",
            "batch": batch,
            "workdir": str(workdir),
            "log": str(workdir / "events.log"),
            "memory_mb": self.request_memory_mb,
            "jobs": mapping,
        }
        self._store(context, job)
        self.log.info(
            "Submitted cluster %d (%d procs) to schedd %s, batch name %s, workdir %s",
            sub.cluster,
            sub.num_procs,
            sub.schedd,
            batch,
            workdir,
        )
        self._after_submit(context, job)
        return self._defer(job)

    def _preflight(self, workdir: Path) -> None:
        """Fail before submitting on what would otherwise become a held job."""
        problems = []
        if not self.shared_fs or self.container_image:
            missing = [workdir / f for f in self.input_files if not (workdir / f).exists()]
            problems += [f"input file {path} does not exist" for path in missing]
        image = self.container_image
        if image and "://" not in image and not Path(image).is_file():
            problems.append(f"container image {image} does not exist")
        proxy = self.submit_extra.get("x509userproxy")
        if proxy and not Path(proxy).is_file():
            problems.append(f"x509userproxy {proxy} does not exist")
        if problems:
            raise AirflowException("not submitting: " + "; ".join(problems))

    def _after_submit(self, context: Any, job: dict[str, Any]) -> None:
        """Called after the job record is stored and before deferring (a test seam)."""

    def _adopt(self, hook: HTCondorHook, batch: str, lost: dict[int, dict[str, int]]) -> dict[str, Any]:
        workdir = self._workdir(batch)
        return {
            "schedd": hook.schedd_name,
            "schedd_hint": hook.schedd_name_hint or "",
            "collector": hook.collector or "",
            "batch": batch,
            "workdir": str(workdir),
            "log": str(workdir / "events.log"),
            "memory_mb": self.request_memory_mb,
            "jobs": {j: item for procs in lost.values() for j, item in procs.items()},
        }

    def _defer(self, job: dict[str, Any]) -> None:
        self._job = job
        trigger = HTCondorJobTrigger(
            job_ids=list(job["jobs"]),
            event_log=job["log"],
            collector=job.get("collector", ""),
            schedd=job.get("schedd_hint", ""),
            poll_interval=self.poll_interval,
            max_poll_failures=self.max_poll_failures,
            hold_policy=self.hold_policy.to_dict(),
        )
        self.defer(trigger=trigger, method_name="execute_complete", kwargs={"job": job}, timeout=None)

    # -- completion ------------------------------------------------------------------------
    def execute_complete(self, context: Any, event: dict[str, Any], job: dict[str, Any] | None = None) -> Any:
        job = job or (context.get("task_state_store").get(STATE_KEY) if context.get("task_state_store") else None)
        if not job:
            raise AirflowException("no HTCondor job record to complete")
        self._job = job
        status = event.get("status")
        self.log.info("Cluster(s) %s on schedd %s: %s %s", _clusters(job), job["schedd"], status, event.get("summary"))
        if status == "error":
            raise AirflowException(f"status polling gave up: {event.get('message')} (jobs left in the queue)")
        if status == "held":
            return self._handle_held(context, job, event)
        states = {j: ProcState.from_dict(d) for j, d in event.get("states", {}).items()}
        failed = [states[j] for j in job["jobs"] if j in states]
        self._log_tails(job, failed, succeeded=event.get("succeeded", []))
        if failed:
            raise AirflowException(self._failure_message(job, failed))
        missing = self._missing_outputs(job)
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            raise AirflowException(f"all procs exited 0 but {len(missing)} expected output(s) are missing: {shown}")
        return self._result(job)

    def _missing_outputs(self, job: Mapping[str, Any]) -> list[str]:
        """Expected outputs (relative to workdir; ``{item}`` = the proc's item index) that do not exist."""
        workdir = Path(job["workdir"])
        items = sorted(set(job["jobs"].values()))
        wanted = {p.format(item=i) for p in self.expected_outputs for i in items}
        return sorted(p for p in wanted if not (workdir / p).exists())

    def _handle_held(self, context: Any, job: dict[str, Any], event: dict[str, Any]) -> Any:
        held = list(event.get("held", []))
        hook = self.hook(job)
        states = {j: ProcState.from_dict(d) for j, d in event.get("states", {}).items()}
        for j in held:
            self.log.error("Held: %s", states[j].describe() if j in states else j)
        if event.get("action") == "resubmit_memory":
            new_mb = self.hold_policy.next_memory(int(job.get("memory_mb", self.request_memory_mb)))
            if new_mb is not None:
                hook.remove(held, f"memory exceeded; resubmitting with {new_mb} MB")
                job = self._resubmit(context, job, held, job["batch"] + f".mem{new_mb}", new_mb, "held for memory")
                return self._defer(job)
            self.log.error("request_memory is at the cap (%d MB); failing", self.hold_policy.memory_cap_mb)
        with contextlib.suppress(Exception):
            hook.remove(list(job["jobs"]), "held-job policy: failing the task")
        raise AirflowException(f"held job(s) removed after policy '{self.hold_policy.action}': {event.get('message')}")

    def _failure_message(self, job: dict[str, Any], failed: list[ProcState]) -> str:
        lines = [f"{len(failed)} of {len(job['jobs'])} proc(s) failed on schedd {job['schedd']}:"]
        for st in failed[:20]:
            lines.append(f"  proc {st.describe()}")
            err = tail(self._out_path(job, st.job_id, "err"), self.tail_lines)
            if err:
                lines.append("    stderr tail:\n" + "\n".join("      " + x for x in err.splitlines()))
        if len(failed) > 20:
            lines.append(f"  ... and {len(failed) - 20} more")
        return "\n".join(lines)

    def _out_path(self, job: Mapping[str, Any], job_id: str, kind: str) -> Path:
        return Path(job["workdir"]) / "out" / f"{job_id}.{kind}"

    def _log_tails(self, job: Mapping[str, Any], failed: list[ProcState], succeeded: list[str]) -> None:
        shown = [st.job_id for st in failed[:5]] + list(succeeded[: max(0, 3 - len(failed))])
        for job_id in shown:
            for kind in ("out", "err"):
                text = tail(self._out_path(job, job_id, kind), self.tail_lines)
                if text:
                    self.log.info("std%s of %s (tail):\n%s", kind, job_id, text)

    def _result(self, job: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "schedd": job["schedd"],
            "clusters": sorted({split_job_id(j)[0] for j in job["jobs"]}),
            "procs": len(job["jobs"]),
            "batch": job["batch"],
            "workdir": job["workdir"],
        }

    def on_kill(self) -> None:
        """Killed while in the worker: remove the jobs."""
        if self._job:
            self.hook(self._job).remove(list(self._job["jobs"]), "Airflow task killed")


def _clusters(job: Mapping[str, Any]) -> str:
    return ",".join(str(c) for c in sorted({split_job_id(j)[0] for j in job["jobs"]}))
