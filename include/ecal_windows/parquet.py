"""ndjson windows -> parquet with the explicit schema, and the dataset finalize step (spec §8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from include.core import atomic
from include.core.errors import InputFileError
from include.ecal_windows import ndjson
from include.ecal_windows.schema import HITS_FIELD, HITS_INDICES, arrow_schema, schema_differences

MISSING_VALUE = -999.0
COMPRESSIONS = ("zstd", "snappy")
COMMON_METADATA = "_common_metadata"
METADATA = "_metadata"
DATASET_METADATA = "dataset_metadata.txt"


class SchemaMismatchError(InputFileError):
    """A parquet file of the dataset does not have the dataset schema."""


def _column(values: Any, field: pa.Field, source: str) -> pa.Array:
    """One leaf column, converted explicitly to the schema type; non-finite reals -> -999."""
    try:
        data = ak.to_numpy(values, allow_missing=False)
    except Exception as exc:
        raise InputFileError(source, f"field {field.name!r}: not a plain column ({exc})") from exc
    t = field.type
    if pa.types.is_floating(t):
        data = np.asarray(data, dtype=np.float64)
        data = np.where(np.isfinite(data), data, MISSING_VALUE)
    elif pa.types.is_integer(t):
        if data.dtype.kind == "f" and not np.all(np.equal(np.mod(data, 1), 0)):
            raise InputFileError(source, f"field {field.name!r}: non-integer value in an integer field")
        data = np.asarray(data, dtype=np.int64)
    elif pa.types.is_boolean(t):
        if data.dtype.kind != "b":
            raise InputFileError(source, f"field {field.name!r}: expected booleans, found {data.dtype}")
    elif pa.types.is_string(t):
        return pa.array([str(v) for v in data.tolist()], type=t)
    return pa.array(data, type=t)


def _get(records: ak.Array, name: str, source: str) -> ak.Array:
    if name not in records.fields:
        raise InputFileError(source, f"ndjson record has no field {name!r}")
    return records[name]


def records_to_table(records: ak.Array, features: dict[str, Any], flavour: int, source: str = "") -> pa.Table:
    """Group the window records into the dataset layout and build the table from the schema."""
    schema = arrow_schema(features)
    if len(records) == 0:
        return schema.empty_table()
    clusters = _get(records, "clusters", source)
    n_cl = np.asarray(ak.num(clusters, axis=1), dtype=np.int32)
    cl_offsets = pa.array(np.concatenate([[0], np.cumsum(n_cl)]).astype(np.int32))
    flat_cl = ak.flatten(clusters, axis=1)
    columns = []
    for field in schema:
        if field.name == HITS_FIELD:
            columns.append(_hits_column(flat_cl, features[HITS_INDICES], cl_offsets, field, source))
            continue
        is_list = pa.types.is_list(field.type)
        struct_type = field.type.value_type if is_list else field.type
        children = []
        for child in struct_type:
            if child.name == "flavour":
                children.append(pa.array(np.full(len(records), flavour, dtype=np.int64), type=child.type))
                continue
            source_arr = _get(flat_cl, child.name, source) if is_list else _get(records, child.name, source)
            children.append(_column(source_arr, child, source))
        struct = pa.StructArray.from_arrays(children, fields=list(struct_type))
        if is_list:
            columns.append(pa.ListArray.from_arrays(cl_offsets, struct, type=field.type))
        else:
            columns.append(struct)
    return pa.Table.from_arrays(columns, schema=schema)


def _hits_column(flat_cl: ak.Array, indices: list[int], cl_offsets: pa.Array, field: pa.Field, source: str):
    hits = _get(flat_cl, "cl_hits", source)
    n_hits = np.asarray(ak.num(hits, axis=1), dtype=np.int32)
    flat_hits = ak.flatten(hits, axis=1)
    widths = np.asarray(ak.num(flat_hits, axis=1)) if len(flat_hits) else np.zeros(0, dtype=np.int64)
    if widths.size and np.any(widths != 6):
        raise InputFileError(source, "field 'cl_hits': every hit must have 6 elements")
    matrix = np.asarray(ak.to_numpy(ak.flatten(flat_hits, axis=None)), dtype=np.float64).reshape(-1, 6)
    values = matrix[:, indices].ravel()
    values = np.where(np.isfinite(values), values, MISSING_VALUE)
    hit_type = field.type.value_type.value_type
    hit_arr = pa.FixedSizeListArray.from_arrays(pa.array(values, type=pa.float64()), type=hit_type)
    hit_offsets = pa.array(np.concatenate([[0], np.cumsum(n_hits)]).astype(np.int32))
    per_cluster = pa.ListArray.from_arrays(hit_offsets, hit_arr, type=field.type.value_type)
    return pa.ListArray.from_arrays(cl_offsets, per_cluster, type=field.type)


def convert(
    ndjson_files: list[Path],
    output: Path,
    features: dict[str, Any],
    flavour: int,
    compression: str = "zstd",
) -> dict[str, int]:
    """Convert window files to one parquet file (atomically); return rows and files."""
    if compression not in COMPRESSIONS:
        raise ValueError(f"parquet compression {compression!r} is not one of {COMPRESSIONS}")
    tables = []
    for path in ndjson_files:
        records = ndjson.parse(ndjson.read_text(path), path)
        tables.append(records_to_table(records, features, flavour, str(path)))
    schema = arrow_schema(features)
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    with atomic.atomic_path(output) as tmp:
        pq.write_table(table, tmp, compression=compression, row_group_size=50_000)
    return {"rows": table.num_rows, "files": len(ndjson_files)}


def dataset_files(folder: Path) -> list[Path]:
    """The parquet files of a dataset folder, sorted by name."""
    return sorted(p for p in Path(folder).glob("*.parquet") if not p.name.startswith("."))


def finalize(folder: str | Path, features: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check one schema across the folder; write ``_common_metadata``, ``_metadata``, type text."""
    folder = Path(folder)
    files = dataset_files(folder)
    if not files:
        raise InputFileError(folder, "no parquet files to finalize")
    expected = arrow_schema(features) if features is not None else pq.read_schema(files[0])
    problems = []
    metadata = []
    rows = 0
    for path in files:
        try:
            meta = pq.read_metadata(path)
            found = meta.schema.to_arrow_schema()
        except Exception as exc:
            raise InputFileError(path, f"unreadable parquet ({type(exc).__name__}: {exc})") from exc
        diffs = schema_differences(expected, found)
        if diffs:
            problems.append(f"{path.name}: {'; '.join(diffs[:5])}")
            continue
        meta.set_file_path(path.name)
        metadata.append(meta)
        rows += meta.num_rows
    if problems:
        raise SchemaMismatchError(folder, "schema differs in " + " | ".join(problems))
    with atomic.atomic_path(folder / COMMON_METADATA) as tmp:
        pq.write_metadata(expected, tmp)
    with atomic.atomic_path(folder / METADATA) as tmp:
        pq.write_metadata(expected, tmp, metadata_collector=metadata)
    type_text = str(ak.types.ArrayType(ak.from_arrow_schema(expected).type, rows))
    atomic.write_text(folder / DATASET_METADATA, type_text + "\n")
    return {"files": len(files), "rows": rows, "type": type_text}
