"""Atomic writes: no half-written file under a final name, ever."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from include.core import atomic


def test_write_json_is_stable_and_complete(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.json"
    atomic.write_json(target, {"b": 1, "a": [1, 2]})
    first = target.read_bytes()
    atomic.write_json(target, {"a": [1, 2], "b": 1})
    assert target.read_bytes() == first
    assert json.loads(first) == {"a": [1, 2], "b": 1}
    assert list(target.parent.iterdir()) == [target]
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_failed_writer_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic.write_text(target, "old")
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_writer_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(FileNotFoundError, match="did not create"), atomic.atomic_path(target) as tmp:
        tmp.unlink()
    assert not target.exists()


def test_killed_writer_leaves_no_final_file(tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    code = (
        "import os, sys, time\n"
        "from include.core import atomic\n"
        f"with atomic.atomic_path({str(target)!r}) as tmp:\n"
        "    with open(tmp, 'wb') as fh:\n"
        "        fh.write(b'x' * 1000); fh.flush()\n"
        "        print('writing', flush=True); time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:  # closes the pipe
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=300)
    assert not target.exists()
    leftovers = atomic.remove_stale_temporaries(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".big.bin.tmp-")
    assert list(tmp_path.iterdir()) == []
