"""Parquet/JSON storage of the products: time × bunch matrices as long tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from include.core import atomic
from include.core.errors import InputFileError


def long_table(time: np.ndarray, slots: np.ndarray, columns: dict[str, np.ndarray], **labels: Any) -> pd.DataFrame:
    """A long table (one row per time and slot) from T × nb matrices."""
    nt, nb = len(time), len(slots)
    data: dict[str, Any] = {
        "time": np.repeat(np.asarray(time, dtype=float), nb),
        "slot": np.tile(np.asarray(slots, dtype=np.int32), nt),
    }
    for name, value in labels.items():
        data[name] = np.full(nt * nb, value) if not isinstance(value, np.ndarray) else np.tile(value, nt)
    for name, matrix in columns.items():
        matrix = np.asarray(matrix, dtype=float)
        if matrix.shape != (nt, nb):
            raise ValueError(f"column {name}: shape {matrix.shape} is not {(nt, nb)}")
        data[name] = matrix.ravel()
    return pd.DataFrame(data)


def matrices(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Back from a long table: (time, slots, {column: T × nb})."""
    time = np.unique(frame["time"].to_numpy())
    slots = np.unique(frame["slot"].to_numpy())
    ti = np.searchsorted(time, frame["time"].to_numpy())
    si = np.searchsorted(slots, frame["slot"].to_numpy())
    out = {}
    for name in columns:
        m = np.full((len(time), len(slots)), np.nan)
        m[ti, si] = frame[name].to_numpy()
        out[name] = m
    return time, slots, out


def write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` atomically as parquet."""
    with atomic.atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a product table; a missing or corrupt file names itself."""
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"cannot read product table ({exc})") from exc


def jsonable(obj: Any) -> Any:
    """numpy values -> plain JSON values (NaN/inf -> None)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_json(path: Path, obj: Any) -> Path:
    return atomic.write_json(path, jsonable(obj))


def read_json(path: Path) -> Any:
    import json

    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"cannot read product JSON ({exc})") from exc
