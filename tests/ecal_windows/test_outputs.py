"""ndjson and parquet outputs: reproducible bytes, explicit schema, finalize (spec §7-§9)."""

from __future__ import annotations

import gzip
import io
import json
import math
import tarfile
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from include.ecal_windows import ndjson, parquet
from include.ecal_windows.config import WindowConfig
from include.ecal_windows.dumper import needed_branches, read_events
from include.ecal_windows.schema import arrow_schema, load_features
from include.ecal_windows.windows import compute_windows


@pytest.fixture(scope="module")
def windows(dumper_file, run3_wp):
    events = read_events(dumper_file, needed_branches())
    return compute_windows(events, WindowConfig(overlap=True, maxnocalow=4), run3_wp)


@pytest.fixture(scope="module")
def features():
    return load_features()


def test_ndjson_lines_tokens_and_types(windows) -> None:
    text = ndjson.to_lines(windows.records)
    lines = text.splitlines()
    assert len(lines) == windows.n_windows and text.endswith("\n")
    first = json.loads(lines[0])
    assert list(first) == windows.records.fields
    assert isinstance(first["calo_index"], int) and isinstance(first["seed_simen_sig"], float)
    assert '"seed_simen_PU":0.0' in lines[0]  # real placeholders are written as floats
    assert isinstance(first["window_index"], str) and len(first["window_index"]) == 9
    # overlap windows hold clusters more energetic than their seed: ln(den + 1) is NaN
    assert ":NaN" in text and '"NaN"' not in text
    hit = first["clusters"][0]["cl_hits"][0]
    assert [type(x) for x in hit] == [int, int, int, float, float, float]  # ieta/iphi/iz stay integers
    nan_lines = [json.loads(line) for line in lines if ":NaN" in line]
    assert any(math.isnan(c["cluster_den_seed_log"]) for w in nan_lines for c in w["clusters"])


def test_gzip_is_reproducible_and_real_gzip(tmp_path: Path, windows) -> None:
    text = ndjson.to_lines(windows.records)
    a = ndjson.write_ndjson(tmp_path / "a.ndjson.gz", [text])
    b = ndjson.write_ndjson(tmp_path / "b.ndjson.gz", [text[: len(text) // 2], text[len(text) // 2 :]])
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes()[:2] == b"\x1f\x8b" and a.read_bytes()[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert gzip.decompress(a.read_bytes()).decode() == text == ndjson.read_text(a)


def test_legacy_tar_gz_archive_is_read_with_a_tar_reader(tmp_path: Path, windows) -> None:
    text = ndjson.to_lines(windows.records[:5])
    path = tmp_path / "clusters_data_1.ndjson.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("output.ndjson")
        info.size = len(text.encode())
        tar.addfile(info, io.BytesIO(text.encode()))
    assert ndjson.read_text(path) == text


def test_parquet_explicit_schema_values_and_missing_value(tmp_path: Path, windows, features) -> None:
    src = ndjson.write_ndjson(tmp_path / "w.ndjson.gz", [ndjson.to_lines(windows.records)])
    out = tmp_path / "pq" / "records_1.parquet"
    assert parquet.convert([src], out, features, 22) == {"rows": windows.n_windows, "files": 1}
    table = pq.read_table(out)
    assert table.schema.equals(arrow_schema(features))
    assert table.schema.names[-1] == "cl_h" and pq.read_metadata(out).row_group(0).column(0).compression == "ZSTD"
    meta = table.column("window_metadata").combine_chunks()
    assert meta.type[len(meta.type) - 1].name == "flavour"
    assert set(meta.field("flavour").to_pylist()) == {22}
    rec = windows.records
    assert meta.field("window_index").to_pylist() == rec.window_index.to_list()
    den_log = ak.flatten(ak.from_arrow(table.column("cl_features"))["cluster_den_seed_log"]).to_numpy()
    expected = ak.flatten(rec.clusters.cluster_den_seed_log).to_numpy()
    assert np.all(np.isfinite(den_log)) and np.sum(den_log == -999.0) == np.sum(~np.isfinite(expected)) > 0
    assert np.array_equal(den_log[np.isfinite(expected)], expected[np.isfinite(expected)])
    hits = ak.from_arrow(table.column("cl_h"))
    raw = rec.clusters.cl_hits.to_list()
    for w in (0, 3, len(raw) - 1):
        assert ak.to_list(hits[w]) == [[[float(h[i]) for i in (0, 1, 2, 4)] for h in cl] for cl in raw[w]]
    assert "awkward" not in (table.schema.metadata or {}).get(b"ARROW:schema", b"").decode(errors="ignore")


def test_same_input_gives_byte_identical_parquet(tmp_path: Path, windows, features) -> None:
    src = ndjson.write_ndjson(tmp_path / "w.ndjson.gz", [ndjson.to_lines(windows.records)])
    a = tmp_path / "a" / "records_1.parquet"
    b = tmp_path / "b" / "records_1.parquet"
    parquet.convert([src], a, features, 11)
    parquet.convert([src], b, features, 11)
    assert a.read_bytes() == b.read_bytes()
    c = tmp_path / "c" / "records_1.parquet"
    parquet.convert([src], c, features, 11, compression="snappy")
    assert pq.read_metadata(c).row_group(0).column(0).compression == "SNAPPY"


def test_empty_window_file_gives_zero_rows(tmp_path: Path, features) -> None:
    src = ndjson.write_ndjson(tmp_path / "empty.ndjson.gz", [""])
    out = tmp_path / "records_2.parquet"
    assert parquet.convert([src], out, features, 11)["rows"] == 0
    assert pq.read_schema(out).equals(arrow_schema(features))


def test_finalize_writes_metadata_and_reads_as_one_dataset(tmp_path: Path, windows, features) -> None:
    folder = tmp_path / "parquet"
    halves = [windows.records[:100], windows.records[100:]]
    for job, part in enumerate([*halves, windows.records[:0]], start=1):
        src = ndjson.write_ndjson(tmp_path / f"w{job}.ndjson.gz", [ndjson.to_lines(part)])
        parquet.convert([src], folder / f"records_{job}.parquet", features, 11)
    result = parquet.finalize(folder, features)
    assert result["files"] == 3 and result["rows"] == windows.n_windows
    assert pq.read_schema(folder / "_common_metadata").equals(arrow_schema(features))
    assert ds.parquet_dataset(str(folder / "_metadata")).count_rows() == windows.n_windows
    assert len(ak.from_parquet(folder, columns=["window_metadata.ncls"])) == windows.n_windows
    meta = pq.read_metadata(folder / "_metadata")
    files = sorted(folder.glob("records_*.parquet"))
    assert meta.num_row_groups == sum(pq.read_metadata(f).num_row_groups for f in files)
    assert meta.row_group(0).column(0).file_path == "records_1.parquet"
    assert (folder / "dataset_metadata.txt").read_text().startswith(f"{windows.n_windows} * {{cl_features: var * {{")


def test_finalize_names_the_offending_file_and_field(tmp_path: Path, windows, features) -> None:
    folder = tmp_path / "parquet"
    src = ndjson.write_ndjson(tmp_path / "w.ndjson.gz", [ndjson.to_lines(windows.records[:20])])
    good = parquet.convert([src], folder / "records_1.parquet", features, 11)
    assert good["rows"] == 20
    table = pq.read_table(folder / "records_1.parquet")
    meta = table.column("window_metadata").combine_chunks()
    fields = [meta.type.field(i) for i in range(meta.type.num_fields)]
    children = [meta.field(i) for i in range(meta.type.num_fields)]
    k = [f.name for f in fields].index("rho")
    children[k] = pa.array(np.round(children[k].to_numpy()).astype(np.int64))
    fields[k] = pa.field("rho", pa.int64(), nullable=False)
    drifted = table.set_column(
        table.schema.get_field_index("window_metadata"),
        pa.field("window_metadata", pa.struct(fields), nullable=False),
        pa.StructArray.from_arrays(children, fields=fields),
    )
    pq.write_table(drifted, folder / "records_2.parquet")
    with pytest.raises(parquet.SchemaMismatchError, match=r"records_2\.parquet: window_metadata\.rho: type int64"):
        parquet.finalize(folder, features)
    assert not (folder / "_metadata").exists()


def test_custom_features_file_changes_the_groups(tmp_path: Path, windows) -> None:
    custom = {
        "features_dict": {
            "cl_features": ["en_cluster", "cluster_deta"],
            "window_metadata": ["ncls"],
            "hits_indices": [0, 3],
        }
    }
    path = tmp_path / "features.json"
    path.write_text(json.dumps(custom))
    feats = load_features(path)
    src = ndjson.write_ndjson(tmp_path / "w.ndjson.gz", [ndjson.to_lines(windows.records[:10])])
    parquet.convert([src], tmp_path / "records_1.parquet", feats, 11)
    table = pq.read_table(tmp_path / "records_1.parquet")
    assert table.schema.names == ["cl_features", "window_metadata", "cl_h"]
    assert table.schema.field("window_metadata").type.names == ["ncls", "flavour"]
    assert table.schema.field("cl_h").type.value_type.value_type.list_size == 2
