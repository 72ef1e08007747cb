"""A production on the apptainer backend chosen in its form: the units run in the runtime image
(HEP_RUNTIME_IMAGE, built by include/apptainer/runtime_image.py) and give what the local backend gives."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from dag_support import load_dag, task_states

pytestmark = pytest.mark.apptainer

CONF = {"settings": "egamma_tnp/settings.json", "binning": "egamma_tnp/binning.json", "chunk_size": 400}
METHOD = Path("demo_DYto2E") / "get_1d_pt_eta_phi_tnp_histograms_1"


@pytest.fixture(scope="module")
def runtime_sif(apptainer_bin: str, image_dir: Path, timings: dict[str, float]) -> Path:
    import time

    from include.apptainer.runtime_image import build_runtime_image

    started = time.monotonic()
    image = build_runtime_image(image_dir / "runtime.sif")
    timings[f"build runtime.sif ({image.stat().st_size / 1e6:.1f} MB)"] = time.monotonic() - started
    return image


def test_egamma_tnp_chunks_in_containers_equal_the_local_run(
    roots, runtime_sif: Path, airflow_db: Path, monkeypatch: pytest.MonkeyPatch, capfd, caplog
) -> None:
    from include.tnp.demo import generate

    data, output = roots
    generate(data / "egamma_tnp", seed=11, n_events=1500)
    dag = load_dag("egamma_tnp.py", "egamma_tnp")
    local = dag.test(run_conf={**CONF, "output": "local", "backend": "local"})
    assert str(local.state) == "success", task_states(local)

    monkeypatch.setenv("HEP_RUNTIME_IMAGE", str(runtime_sif))
    capfd.readouterr()
    run = dag.test(run_conf={**CONF, "output": "in_container", "backend": "apptainer"})
    assert str(run.state) == "success", task_states(run)
    assert task_states(run)["process_chunk"] == ["success"] * 4  # 1500 events / 400: one container per chunk
    out = capfd.readouterr()
    log = out.out + out.err + caplog.text
    assert log.count(f"running include.tnp.pipeline:process_chunk in {runtime_sif}") >= 4, log[-3000:]

    local_dir, container_dir = output / "egamma_tnp" / "local", output / "egamma_tnp" / "in_container"
    for chunk in sorted((container_dir / "chunks").glob("*/chunk-*")):
        manifest = json.loads((chunk / "process.manifest.json").read_text())
        assert manifest["backend"] == "apptainer", chunk
    summary = json.loads((container_dir / "summary.json").read_text())
    assert summary["counts"] == json.loads((local_dir / "summary.json").read_text())["counts"]
    assert summary["events_processed"] == 1500
    for pkl in sorted((local_dir / METHOD).glob("*_histos.pkl")):
        ours = pickle.loads((container_dir / METHOD / pkl.name).read_bytes())
        theirs = pickle.loads(pkl.read_bytes())
        for region in theirs["pt"]:
            for side in ("passing", "failing"):
                assert ours["pt"][region][side] == theirs["pt"][region][side], (pkl.name, region, side)
