"""Benchmark: image build time, container start overhead, and the apptainer backend's cost per call.

    source $CONDOR_POOL_DIR/env.sh   # or any apptainer/singularity on PATH
    python bench/apptainer_overhead.py [--repeat 20]

Builds a busybox SIF and a host-Python runtime SIF from local sandboxes in a temporary
directory, then times ``true`` on the host vs in the container (through ProcessRunner), and
``hash_object`` called locally vs through ``run_call(backend="apptainer")``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from include.apptainer import images
from include.apptainer.command import build_command
from include.apptainer.runner import run_command
from include.core.backends import TaskCall, run_call


def timed(func: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return samples


def report(label: str, samples: list[float]) -> None:
    print(
        f"{label:<42} median {statistics.median(samples) * 1000:7.1f} ms   "
        f"min {min(samples) * 1000:7.1f} ms   max {max(samples) * 1000:7.1f} ms   (n={len(samples)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    busybox = images.find_busybox()
    if busybox is None:
        raise SystemExit("no busybox binary (apt-get install busybox-static)")
    with tempfile.TemporaryDirectory(prefix="bench-apptainer-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        images.make_busybox_sandbox(work / "bb", busybox)
        images.build_image(work / "bb", work / "busybox.sif")
        print(f"build busybox.sif: {time.perf_counter() - started:.2f} s ({(work / 'busybox.sif').stat().st_size} B)")
        started = time.perf_counter()
        images.make_python_runtime_sandbox(work / "py", busybox)
        images.build_image(work / "py", work / "python.sif")
        print(f"build python-runtime.sif: {time.perf_counter() - started:.2f} s")

        bb = str(work / "busybox.sif")
        report("host: true", timed(lambda: run_command(["true"]), args.repeat))
        report("container: true (busybox.sif)", timed(lambda: run_command(build_command(bb, ["true"])), args.repeat))
        call = TaskCall("include.core.fingerprint:hash_object", {"obj": {"a": list(range(100))}})
        report("local: run_call(hash_object)", timed(lambda: run_call(call), args.repeat))
        report(
            "apptainer: run_call(hash_object)",
            timed(
                lambda: run_call(call, backend="apptainer", image=str(work / "python.sif"), host_python=True),
                args.repeat,
            ),
        )


if __name__ == "__main__":
    main()
