"""``lumi_reprocess``'s trigger form: the defaults, and overrides refused in the first task.

The reprocessing itself runs in ``tests/massi/test_reprocess.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dag_support import assert_refused_at_once, form_conf, load_dag

DAG = ("lumi_reprocess.py", "lumi_reprocess")


def test_form_defaults_mean_the_local_backend_and_no_overrides() -> None:
    from include.massi.watch import validate_reprocess_form

    conf = form_conf(load_dag(*DAG, None))
    condor = {"hold_policy": {"action": "wait", "on_memory": "fail"}, "request_memory_mb": 2048}
    assert validate_reprocess_form(conf) == {"backend": "local", "config_overrides": {}, **condor}
    overrides = {"plotDpi": 20, "doSBModel": True}
    assert validate_reprocess_form({**conf, "config_overrides": overrides})["config_overrides"] == overrides


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"doSBPlots": "no"}, "key 'doSBPlots' must be a boolean, got 'no'"),
        ({"min_time_SB": "300"}, "key 'min_time_SB' must be a number, got '300'"),
        ({"massi_afs_path": "/etc/"}, "key 'massi_afs_path' ('/etc/'): /etc is outside the allowed roots"),
    ],
)
def test_overrides_are_checked_against_the_configuration(overrides: dict, message: str) -> None:
    from include.core.errors import ParamError
    from include.massi.watch import validate_reprocess_form

    with pytest.raises(ParamError) as caught:
        validate_reprocess_form({"backend": "local", "config_overrides": overrides})
    assert caught.value.param == "config_overrides" and message in str(caught.value)


def test_invalid_overrides_fail_before_any_fill_is_touched(roots: tuple[Path, Path], capfd) -> None:
    dag = load_dag(*DAG, retries=None)  # the DAG's own retries
    conf = {"config_overrides": {"doSBModel": "x; rm -rf /", "noSuchKey": 1}}
    message = "key 'doSBModel' must be a boolean, got 'x; rm -rf /'; unknown key 'noSuchKey' (value 1)"
    states = assert_refused_at_once(dag, conf, "config_overrides", message, capfd)
    assert states["pending"] == ["upstream_failed"] and states["summary"] == ["upstream_failed"]
    assert not (roots[0] / "lumi").exists()  # the fill database was not even opened
