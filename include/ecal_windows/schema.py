"""Feature groups and the explicit Arrow schema of the parquet dataset (spec §8).

Every file is built from this schema, never by type inference: int64 for ids, indices, counts
and crystal coordinates, float64 for reals, bool for labels, string for ``window_index``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from include.core.errors import InputFileError

HITS_INDICES = "hits_indices"
HITS_FIELD = "cl_h"
FLAVOUR_GROUP = "window_metadata"
INT_FIELDS = frozenset(
    {
        "run_id",
        "lumi_id",
        "event_id",
        "calo_index",
        "mustache_seed_index",
        "seed_iz",
        "seed_ieta",
        "seed_iphi",
        "nVtx",
        "ncls",
        "nclusters_insc",
        "cl_index",
        "other_calo_index",
        "cluster_ieta",
        "cluster_iphi",
        "cluster_iz",
        "flavour",
    }
)
STRING_FIELDS = frozenset({"window_index"})


def field_type(name: str) -> pa.DataType:
    """The Arrow type of one record field."""
    if name in STRING_FIELDS:
        return pa.string()
    if name.startswith(("is_", "in_")):
        return pa.bool_()
    if name in INT_FIELDS:
        return pa.int64()
    return pa.float64()


def default_features_path() -> Path:
    return Path(str(resources.files("include.ecal_windows") / "data" / "features_definition.json"))


def load_features(path: str | Path | None = None) -> dict[str, Any]:
    """The ``features_dict`` of a features-definition file (the packaged default if ``None``)."""
    path = Path(path) if path else default_features_path()
    try:
        doc = json.loads(path.read_text())
        features = doc["features_dict"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(path, f"not a features definition ({type(exc).__name__}: {exc})") from exc
    if not isinstance(features, dict) or not features:
        raise InputFileError(path, "features_dict must be a non-empty object")
    for group, names in features.items():
        if group == HITS_INDICES:
            if not (isinstance(names, list) and names and all(isinstance(i, int) and 0 <= i < 6 for i in names)):
                raise InputFileError(path, "hits_indices must be a list of hit element indices 0..5")
        elif not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
            raise InputFileError(path, f"group {group!r} must be a non-empty list of field names")
    features.setdefault(HITS_INDICES, [0, 1, 2, 4])
    return features


def _struct(names: list[str]) -> pa.StructType:
    return pa.struct([pa.field(n, field_type(n), nullable=False) for n in names])


def arrow_schema(features: dict[str, Any]) -> pa.Schema:
    """The dataset schema: one field per group (``cl_*`` groups are lists), ``flavour``, ``cl_h``."""
    fields = []
    for group, names in features.items():
        if group == HITS_INDICES:
            continue
        names = list(names)
        if group == FLAVOUR_GROUP and "flavour" not in names:
            names.append("flavour")
        struct = _struct(names)
        if group.startswith("cl_"):
            fields.append(pa.field(group, pa.list_(pa.field("item", struct, nullable=False)), nullable=False))
        else:
            fields.append(pa.field(group, struct, nullable=False))
    hit = pa.list_(pa.field("item", pa.float64(), nullable=False), len(features[HITS_INDICES]))
    hits = pa.list_(pa.field("item", hit, nullable=False))
    fields.append(pa.field(HITS_FIELD, pa.list_(pa.field("item", hits, nullable=False)), nullable=False))
    return pa.schema(fields)


def schema_differences(expected: pa.Schema, found: pa.Schema) -> list[str]:
    """Human-readable differences (field path and types) between two schemas."""
    out = []

    def walk(prefix: str, a: pa.DataType | None, b: pa.DataType | None) -> None:
        if a == b:
            return
        if a is not None and b is not None and pa.types.is_struct(a) and pa.types.is_struct(b):
            names_a = [a.field(i).name for i in range(a.num_fields)]
            names_b = [b.field(i).name for i in range(b.num_fields)]
            for name in dict.fromkeys(names_a + names_b):
                fa = a.field(name).type if name in names_a else None
                fb = b.field(name).type if name in names_b else None
                walk(f"{prefix}.{name}", fa, fb)
            if names_a != names_b and set(names_a) == set(names_b):
                out.append(f"{prefix}: field order differs")
            return
        if a is not None and b is not None and _is_list(a) and _is_list(b) and type(a) is type(b):
            if getattr(a, "list_size", None) != getattr(b, "list_size", None):
                out.append(f"{prefix}: list size {b.list_size} instead of {a.list_size}")
                return
            walk(f"{prefix}[]", a.value_type, b.value_type)
            if a.value_field.nullable != b.value_field.nullable:
                out.append(f"{prefix}[]: nullability differs")
            return
        if b is None:
            out.append(f"{prefix}: missing (expected {a})")
        elif a is None:
            out.append(f"{prefix}: unexpected field of type {b}")
        else:
            out.append(f"{prefix}: type {b} instead of {a}")

    names = list(dict.fromkeys(expected.names + found.names))
    for name in names:
        fa = expected.field(name).type if name in expected.names else None
        fb = found.field(name).type if name in found.names else None
        walk(name, fa, fb)
    if not out and expected.names != found.names:
        out.append(f"top-level field order {found.names} instead of {expected.names}")
    if not out and not expected.equals(found, check_metadata=False):
        out.append("nullability differs")
    return out


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t)
