"""Window records as ndjson: one window per line, gzip with a zero mtime (byte-reproducible).

Non-finite reals are written as the bare tokens ``NaN`` / ``Infinity`` / ``-Infinity`` (spec §7).
Reading accepts ``.ndjson``, ``.ndjson.gz`` and legacy ``.ndjson.tar.gz`` archives (member
``output.ndjson``, read with a tar reader).
"""

from __future__ import annotations

import gzip
import json
import tarfile
from collections.abc import Iterable
from pathlib import Path

import awkward as ak
import numpy as np

from include.core import atomic
from include.core.errors import InputFileError
from include.ecal_windows.windows import META_COLUMNS

TAR_MEMBER = "output.ndjson"


_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _leaf(values: np.ndarray) -> list[str]:
    """JSON tokens of a numpy column: ``float.__repr__`` like the json module, bare non-finite tokens."""
    kind = values.dtype.kind
    if kind == "b":
        return np.where(values, "true", "false").tolist()
    if kind in "iu":
        return list(map(str, values.tolist()))
    tokens = list(map(float.__repr__, values.astype(np.float64).tolist()))
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        tokens[i] = _NONFINITE[tokens[i]]
    return tokens


def _lists(inner: list[str], starts: np.ndarray, stops: np.ndarray) -> list[str]:
    return ["[" + ",".join(inner[a:b]) + "]" for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]


def _render(layout: ak.contents.Content) -> list[str]:
    """One JSON text per element of ``layout``; shared contents (gathered lists) are rendered once."""
    if layout.parameter("__array__") == "string":
        return [json.dumps(v) for v in ak.to_list(layout)]
    if isinstance(layout, ak.contents.RecordArray):
        columns = [_render(layout.content(f)) for f in layout.fields]
        if layout.is_tuple:  # a fixed-length list of mixed types, e.g. a hit
            template = "[" + ",".join(["%s"] * len(columns)) + "]"
        else:
            template = "{" + ",".join(f"{json.dumps(f)}:%s" for f in layout.fields) + "}"
        return [template % row for row in zip(*columns, strict=True)]
    if isinstance(layout, ak.contents.IndexedArray):
        inner = _render(layout.content)
        return [inner[i] for i in np.asarray(layout.index).tolist()]
    if isinstance(layout, ak.contents.ListOffsetArray):
        starts, stops = np.asarray(layout.starts), np.asarray(layout.stops)
        return _lists(_render(layout.content), starts, stops)
    if isinstance(layout, ak.contents.ListArray):  # gathered lists: render each used element once
        starts, stops = np.asarray(layout.starts, dtype=np.int64), np.asarray(layout.stops, dtype=np.int64)
        counts = stops - starts
        ends = np.cumsum(counts)
        element = (
            np.repeat(starts, counts) + np.arange(int(ends[-1]) if ends.size else 0) - np.repeat(ends - counts, counts)
        )
        used, position = np.unique(element, return_inverse=True)
        inner = _render(layout.content[used] if used.size else layout.content[0:0])
        tokens = [inner[i] for i in position.tolist()]
        return _lists(tokens, ends - counts, ends)
    if isinstance(layout, ak.contents.RegularArray):
        starts = np.arange(layout.length, dtype=np.int64) * layout.size
        return _lists(_render(layout.content), starts, starts + layout.size)
    if isinstance(layout, ak.contents.NumpyArray):
        data = np.asarray(layout.data)
        if data.ndim == 1:
            return _leaf(data)
        inner = _render(ak.contents.NumpyArray(data.reshape(-1, *data.shape[2:])))
        starts = np.arange(len(data), dtype=np.int64) * data.shape[1]
        return _lists(inner, starts, starts + data.shape[1])
    raise TypeError(f"cannot write {type(layout).__name__} as JSON")


def to_lines(records: ak.Array) -> str:
    """The ndjson text of ``records``: compact JSON (as ``json.dumps`` with ``(",", ":")`` separators),
    one record per line, bare ``NaN``/``Infinity``/``-Infinity``; empty string for no records."""
    if len(records) == 0:
        return ""
    return "\n".join(_render(records.layout)) + "\n"


def write_ndjson(path: str | Path, chunks: Iterable[str], compress: bool = True) -> Path:
    """Write the text chunks as ndjson (gzip, mtime 0, no file name in the header) atomically."""
    path = Path(path)
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as raw:
        if compress:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as out:
                for chunk in chunks:
                    out.write(chunk.encode())
        else:
            for chunk in chunks:
                raw.write(chunk.encode())
    return path


def read_text(path: str | Path) -> str:
    """The ndjson text of a ``.ndjson``, ``.ndjson.gz`` or ``.ndjson.tar.gz`` file."""
    path = Path(path)
    try:
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path, "r:gz") as tar:
                member = tar.extractfile(TAR_MEMBER)
                if member is None:
                    raise InputFileError(path, f"archive has no member {TAR_MEMBER!r}")
                return member.read().decode()
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read().decode()
        return path.read_text()
    except InputFileError:
        raise
    except (OSError, EOFError, KeyError, tarfile.TarError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read ndjson ({type(exc).__name__}: {exc})") from exc


def parse(text: str, source: str | Path = "") -> ak.Array:
    """Parse ndjson text into awkward records (exact float parsing; NaN and infinities kept)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return ak.Array([])
    try:
        return ak.from_iter([json.loads(line) for line in lines])
    except ValueError as exc:
        raise InputFileError(source or "ndjson", f"malformed ndjson ({exc})") from exc


def meta_csv(meta: dict[str, np.ndarray]) -> str:
    """The per-event metadata as ``;``-separated CSV with a header (no index)."""
    columns = [np.asarray(meta[c], dtype=np.int64) for c in META_COLUMNS]
    rows = [";".join(META_COLUMNS)]
    rows += [";".join(map(str, row)) for row in zip(*(c.tolist() for c in columns), strict=True)]
    return "\n".join(rows) + "\n"


def meta_body(meta: dict[str, np.ndarray]) -> str:
    """The CSV rows without the header (for appending chunks)."""
    return meta_csv(meta).split("\n", 1)[1]
