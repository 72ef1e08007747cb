"""Provenance manifests: a small JSON record beside each product.

A manifest says which production, step and unit made the outputs, with which parameters,
from which inputs (size and sha256), with which code, tools and images, where and when. The
``fingerprint`` field is what freshness compares.
"""

from __future__ import annotations

import json
import platform
import socket
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import include
from include.core import atomic
from include.core.errors import InputFileError
from include.core.fingerprint import FileFingerprint, file_fingerprint

SCHEMA = "hep-productions/manifest/1"
SUFFIX = ".manifest.json"


def utc_now() -> str:
    """ISO-8601 UTC timestamp with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Manifest:
    """The provenance record of one step of one unit (or of one file)."""

    production: str
    step: str
    unit: str
    params: dict[str, Any]
    fingerprint: str
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    tools: dict[str, Any] = field(default_factory=dict)
    code_version: str = include.__version__
    python: str = platform.python_version()
    host: str = field(default_factory=socket.gethostname)
    backend: str = "local"
    started: str = ""
    finished: str = ""
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"unknown manifest schema {data.get('schema')!r}")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def output_identities(self) -> list[tuple[str, int, str | int]]:
        """The recorded outputs as fingerprint identities (what downstream steps depend on)."""
        return [FileFingerprint(**o).identity() for o in self.outputs]


def manifest_path(product: str | Path) -> Path:
    """The manifest that sits beside ``product``: ``<product>.manifest.json``."""
    product = Path(product)
    return product.with_name(product.name + SUFFIX)


def write_manifest(path: str | Path, manifest: Manifest) -> Path:
    """Write ``manifest`` atomically to ``path``."""
    return atomic.write_json(path, manifest.to_dict())


def read_manifest(path: str | Path) -> Manifest | None:
    """Read a manifest; ``None`` if it does not exist. A corrupt manifest is an error."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return Manifest.from_dict(json.loads(text))
    except (ValueError, TypeError) as exc:
        raise InputFileError(path, f"corrupt manifest ({exc}); delete it to rebuild the product") from exc


def describe_files(paths: list[Path]) -> list[dict[str, Any]]:
    """Fingerprints of ``paths`` as manifest entries (missing files are an error)."""
    entries = []
    for path in paths:
        if not Path(path).is_file():
            raise InputFileError(path, "expected file does not exist")
        entries.append(file_fingerprint(path).to_dict())
    return entries


def runtime_tools() -> dict[str, str]:
    """Versions of the main libraries, recorded in every manifest."""
    versions = {"python": sys.version.split()[0]}
    for module in ("numpy", "pandas", "pyarrow", "uproot", "awkward", "matplotlib", "scipy"):
        mod = sys.modules.get(module)
        if mod is not None:
            versions[module] = getattr(mod, "__version__", "?")
    return versions
