"""What a unit's call came to: the one shape every backend's result is judged in (no Airflow here).

A backend returns the structured result of :mod:`include.core.runcall` (``ok``, ``result``, or
``error``/``message`` and ``permanent``). A production may read its own verdict out of a
successful result (a step that failed for one fill of a batch, a skipped step); otherwise
:func:`from_result` applies. ``include.core.unit_operator.raise_for`` turns the outcome into the
task's state: success, skipped, failed at once (permanent) or failed and retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SUCCESS, SKIPPED, FAILED = "success", "skipped", "failed"


@dataclass(frozen=True)
class CallOutcome:
    """``state`` is success | skipped | failed; ``permanent``: a retry cannot fix the failure."""

    state: str
    message: str = ""
    permanent: bool = False
    value: Any = None

    def __post_init__(self) -> None:
        if self.state not in (SUCCESS, SKIPPED, FAILED):
            raise ValueError(f"outcome state {self.state!r} is not one of {SUCCESS}, {SKIPPED}, {FAILED}")


def failed_result(result: Mapping[str, Any], where: str = "") -> CallOutcome:
    """The outcome of a structured result with ``ok: false`` (``where`` prefixes the message)."""
    message = str(result.get("error") or result.get("message") or "the call failed without a message")
    return CallOutcome(FAILED, f"{where}{message}", bool(result.get("permanent")))


def from_result(result: Mapping[str, Any]) -> CallOutcome:
    """The default verdict: the call's value on success, its error (and permanence) otherwise."""
    if not result.get("ok"):
        return failed_result(result)
    return CallOutcome(SUCCESS, value=result.get("result"))
