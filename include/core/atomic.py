"""Atomic outputs: write to a temporary name in the same folder, flush, fsync, rename.

A killed process leaves at most a ``.<name>.tmp-*`` file behind, never a half-written file
under the final name. Temporary leftovers are removed by :func:`remove_stale_temporaries`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_MARK = ".tmp-"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success rename it to ``final``.

    For writers that want a file name (``df.to_parquet(tmp)``, ``fig.savefig(tmp)``,
    ``uproot.recreate(tmp)``). On an exception the temporary file is removed and ``final``
    is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}{TMP_MARK}", dir=final.parent, suffix=final.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"writer did not create {tmp} for {final}")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(final: str | Path, data: bytes) -> Path:
    """Write ``data`` atomically to ``final``."""
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)
    return Path(final)


def write_text(final: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` atomically to ``final``."""
    return write_bytes(final, text.encode("utf-8"))


def write_json(final: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON atomically (stable bytes for a re-run)."""
    return write_text(final, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete temporaries left by killed writers below ``folder``; return what was removed."""
    removed = []
    for path in Path(folder).rglob(f".*{TMP_MARK}*"):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed
