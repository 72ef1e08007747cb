"""Project layout rules that are easy to break by accident."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_test_module_names_are_unique() -> None:
    """pytest's default import mode imports test modules by basename."""
    names = Counter(p.name for p in (REPO / "tests").rglob("*.py") if p.name != "conftest.py")
    assert [name for name, n in names.items() if n > 1] == []


def test_product_code_does_not_need_the_shared_folder() -> None:
    """The sample data in ../shared is for tests; the product must run without it."""
    offenders = [
        str(p.relative_to(REPO))
        for folder in ("include", "dags", "plugins")
        for p in (REPO / folder).rglob("*")
        if p.is_file() and p.suffix in {".py", ".yaml", ".json", ".sh"} and "../shared" in p.read_text(errors="ignore")
    ]
    assert offenders == []


def test_plugins_hold_registrations_only() -> None:
    for path in (REPO / "plugins").glob("*.py"):
        assert "AirflowPlugin" in path.read_text(), f"{path.name} registers no AirflowPlugin"
