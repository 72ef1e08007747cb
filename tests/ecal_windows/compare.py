"""Window-by-window comparison of record lists with a float tolerance (NaN equals NaN)."""

from __future__ import annotations

import math
from typing import Any


def diff(a: Any, b: Any, path: str = "") -> str | None:
    """The first difference between two JSON-like values, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return f"{path}: keys differ {sorted(set(a) ^ set(b))} or order differs"
        for k in a:
            d = diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return None if a == b and type(a) is type(b) else f"{path}: {a!r} != {b!r}"
    if isinstance(a, int) and isinstance(b, int):
        return None if a == b else f"{path}: {a} != {b}"
    if type(a) is not type(b):
        return f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"
    if isinstance(a, float):
        if math.isnan(a) and math.isnan(b):
            return None
        if math.isinf(a) or math.isinf(b):
            return None if a == b else f"{path}: {a} != {b}"
        return None if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else f"{path}: {a!r} != {b!r}"
    return f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"
