"""Manifests: provenance content, round trip, corrupt records named clearly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from include.core.errors import InputFileError
from include.core.fingerprint import file_fingerprint, hash_object
from include.core.manifest import Manifest, describe_files, manifest_path, read_manifest, write_manifest


def test_round_trip_and_location(tmp_path: Path) -> None:
    product = tmp_path / "fill_6016_lumi.parquet"
    product.write_bytes(b"abc")
    record = Manifest("lumi_followup", "lumi", "fill_6016", {"year": 2017}, "f" * 64, outputs=describe_files([product]))
    path = write_manifest(manifest_path(product), record)
    assert path.name == "fill_6016_lumi.parquet.manifest.json"
    back = read_manifest(path)
    assert back == record
    assert back.outputs[0]["sha256"] == hashlib.sha256(b"abc").hexdigest()
    assert back.host and back.started == "" and back.code_version


def test_missing_is_none_and_corrupt_is_named(tmp_path: Path) -> None:
    assert read_manifest(tmp_path / "none.json") is None
    bad = tmp_path / "bad.manifest.json"
    bad.write_text("{not json")
    with pytest.raises(InputFileError, match=r"bad\.manifest\.json: corrupt manifest"):
        read_manifest(bad)


def test_describe_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="expected file does not exist"):
        describe_files([tmp_path / "nope"])


def test_large_files_use_mtime(tmp_path: Path) -> None:
    f = tmp_path / "big"
    f.write_bytes(b"0123456789")
    small = file_fingerprint(f)
    large = file_fingerprint(f, large_file_bytes=5)
    assert small.sha256 is not None and large.sha256 is None
    assert large.identity() == (str(f), 10, large.mtime_ns)


def test_parameter_hash_ignores_key_order() -> None:
    assert hash_object({"a": 1, "b": [1, 2]}) == hash_object({"b": [1, 2], "a": 1})
    assert hash_object({"a": 1}) != hash_object({"a": 2})
