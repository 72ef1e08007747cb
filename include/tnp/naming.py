"""Output names of the reference tool (spec §5), including its legacy inconsistencies."""

from __future__ import annotations


def filter_file_name(name: str) -> str:
    """``<f>`` in ``<f>_histos.pkl`` and parquet names: spaces, >=, <=, >, < replaced."""
    for old, new in ((" ", "_"), (">=", "gte"), ("<=", "lte"), (">", "gt"), ("<", "lt")):
        name = name.replace(old, new)
    return name


def filter_report_name(name: str) -> str:
    """``<f'>`` in ``<f'>_report.json``: only spaces, >= and <= are replaced (legacy)."""
    for old, new in ((" ", "_"), (">=", "gte"), ("<=", "lte")):
        name = name.replace(old, new)
    return name


def histos_file(filter_name: str) -> str:
    return f"{filter_file_name(filter_name)}_histos.pkl"


def report_file(filter_name: str | None) -> str:
    return "report.json" if filter_name is None else f"{filter_report_name(filter_name)}_report.json"


def parquet_files(method: str, filter_name: str | None, part: int) -> list[str]:
    """The parquet parts a method writes for chunk ``part``."""
    if method == "get_passing_and_failing_probes":
        f = filter_file_name(filter_name or "")
        return [f"passing_{f}_NTuples-part{part}.parquet", f"failing_{f}_NTuples-part{part}.parquet"]
    return [f"NTuples-part{part}.parquet"]
