"""Planning: chunking of the fill list (legacy --split, max_map_length) and the run state."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.lumi.planning import batches, last_processed, remember_processed, split_chunks


def test_split_like_legacy() -> None:
    fills = list(range(6000, 6011))  # 11 fills
    chunks = split_chunks(fills, 3)  # array_split(11, 11 // 3 = 3): every chunk >= 3
    assert [len(c) for c in chunks] == [4, 4, 3] and [f for c in chunks for f in c] == fills
    assert split_chunks(fills[:2], 5) == [fills[:2]]  # n < K: one chunk (the legacy tool crashed)
    assert split_chunks(fills[:3], 0) == [[6000], [6001], [6002]]
    assert split_chunks([], 3) == []


def test_batches_respect_limit() -> None:
    items = list(range(2500))
    out = batches(items, 1024)
    assert len(out) == 1024 and [i for c in out for i in c] == items and max(map(len, out)) - min(map(len, out)) <= 1


def test_run_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(tmp_path))
    assert last_processed(2017) is None
    remember_processed(2017, 6140, "run1")
    remember_processed(2017, 6100, "run2")  # never moves backwards
    assert last_processed(2017) == 6140
    assert last_processed(2016) is None
