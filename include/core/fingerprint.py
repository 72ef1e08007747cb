"""Fingerprints of files and parameters, the basis of provenance and freshness."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Files above this size are fingerprinted by size and mtime instead of content (see DESIGN).
LARGE_FILE_BYTES = 2 * 1024**3
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileFingerprint:
    """What a manifest records about one file."""

    path: str
    size: int
    sha256: str | None
    mtime_ns: int

    def identity(self) -> tuple[str, int, str | int]:
        """The part that decides freshness: content hash, or mtime for very large files."""
        return (self.path, self.size, self.sha256 if self.sha256 is not None else self.mtime_ns)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_fingerprint(path: str | Path, *, large_file_bytes: int = LARGE_FILE_BYTES) -> FileFingerprint:
    """Fingerprint one file (content hash unless it is larger than ``large_file_bytes``)."""
    path = Path(path)
    stat = path.stat()
    sha = sha256_file(path) if stat.st_size <= large_file_bytes else None
    return FileFingerprint(str(path), stat.st_size, sha, stat.st_mtime_ns)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces, the input of every parameter hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def hash_object(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()
