"""``massi_watch``'s trigger form: the defaults, and years without a configuration refused at once.

The scans themselves run in ``tests/massi/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dag_support import assert_refused_at_once, form_conf, load_dag

DAG = ("massi_watch.py", "massi_watch")


def test_form_defaults_scan_2017() -> None:
    from include.massi.watch import validate_watch_form

    assert validate_watch_form(form_conf(load_dag(*DAG, None))) == {"years": [2017], "settle_seconds": 120.0}


@pytest.mark.parametrize(
    ("years", "message"),
    [([2015], "[2015] have no lumi configuration"), ([2017, 2017], "years repeat"), ([], "give one or more")],
)
def test_years_are_checked(years: list[int], message: str) -> None:
    from include.core.errors import ParamError
    from include.massi.watch import validate_watch_form

    with pytest.raises(ParamError, match=r"^parameter 'years': ") as caught:
        validate_watch_form({"years": years, "settle_seconds": 0})
    assert message in str(caught.value)


def test_a_year_without_configuration_fails_the_first_task_at_once(roots: tuple[Path, Path], capfd) -> None:
    dag = load_dag(*DAG, retries=None)  # the DAG's own retries
    states = assert_refused_at_once(dag, {"years": [2015]}, "years", "[2015]", capfd)
    assert states["scan"] == ["upstream_failed"] and states["announce"] == ["upstream_failed"]
    assert not (roots[0] / "lumi").exists()  # the fill database was not even opened
