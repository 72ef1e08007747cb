"""The products recover what the generator put in: luminosity, emittance growth, Massi values."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from include.lumi.constants import slot_to_bucket
from include.lumi.expfit import fit_tau
from include.lumi.massi import read_bunch_lumi
from include.lumi.tasks import process_fill

FILLS = (6140, 6146)
CONFIG = {"year": 2017, "doSBPlots": False, "doCyclePlots": False}
EXPERIMENTS = ("ATLAS", "CMS")


@pytest.fixture(scope="module")
def processed(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Output root with both demo fills processed once (read-only for the tests of this module)."""
    out = tmp_path_factory.mktemp("lumi-truth-out")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEP_DATA_ROOT", str(demo_root))
        mp.setenv("HEP_OUTPUT_ROOT", str(out))
        for fill in FILLS:
            report = process_fill(fill, config=CONFIG)
            assert report["ok"], report
    return out


@pytest.fixture(params=FILLS)
def fill(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture
def products(processed: Path, fill: int) -> Path:
    return processed / "lumi_followup" / f"fill_{fill}"


def _on_grid(truth_t: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Columns of ``values`` (T × n) interpolated onto ``grid``."""
    return np.column_stack([np.interp(grid, truth_t, values[:, i]) for i in range(values.shape[1])])


def _archive_table(path: Path, fill: int, exp: str, bucket: int) -> np.ndarray:
    """Every column of one per-bunch file, parsed with tarfile alone."""
    with tarfile.open(path) as tar:
        member = tar.extractfile(f"{fill}/{fill}_lumi_{bucket}_{exp}.txt")
        rows = [re.split(r"[ \t]+", line.strip()) for line in member.read().decode().splitlines() if line.strip()]
    return np.array([[float(v) for v in r] for r in rows])


@pytest.mark.parametrize("exp", EXPERIMENTS)
def test_calculated_luminosity_matches_truth(products: Path, demo_truth: dict, fill: int, exp: str) -> None:
    truth = demo_truth[fill]
    calc = pd.read_parquet(products / f"fill_{fill}_lumi_calc.parquet").pivot(index="time", columns="slot", values=exp)
    assert calc.columns.tolist() == truth.coll_slots.tolist()
    expected = _on_grid(truth.t, truth.lumi[exp], calc.index.to_numpy())
    total = calc.to_numpy().sum(axis=1) / expected.sum(axis=1)
    assert np.abs(total - 1).max() < 0.01  # every point of the fill, within 1 %
    per_bunch = calc.to_numpy() / expected
    assert np.median(np.abs(per_bunch - 1)) < 0.01


def test_fits_recover_emittance_growth_time(products: Path, demo_truth: dict, fill: int) -> None:
    truth = demo_truth[fill]
    sb = pd.read_parquet(products / f"fill_{fill}_sb.parquet")
    fits = pd.read_parquet(products / f"fill_{fill}_fits.parquet")
    grid = np.sort(sb.time.unique())
    for beam in (1, 2):
        coll = fits[(fits.group == f"beam_{beam}") & (fits.family == "coll")].set_index("slot")
        bt = truth.beams[beam]
        cols = np.searchsorted(bt.slots, coll.index.to_numpy())
        for name, emittance in (("emith", bt.emit_h_um), ("emitv", bt.emit_v_um)):
            # the generator's growth time: the same exponential fit over the same SB grid, on the true emittance
            true_tau, _ = fit_tau(grid, _on_grid(truth.t, emittance[:, cols], grid), grid[0], None, 1.0)
            fitted = coll[f"tau_{name}_full"].to_numpy()
            assert np.isfinite(fitted).mean() > 0.95
            if name == "emith":  # ~35 h growth time: the median bunch within 5 %
                assert np.nanmedian(fitted) / np.median(true_tau) == pytest.approx(1, abs=0.05)
            else:  # ~350 h, i.e. 3 % growth over the fill under 4 % BSRT noise: compare the rates
                rate = np.nanmedian(3600 / fitted) - np.median(3600 / true_tau)
                assert abs(rate) < 1e-3  # per hour


@pytest.mark.parametrize("exp", EXPERIMENTS)
def test_measured_luminosity_is_what_the_archive_holds(
    products: Path, demo_root: Path, demo_truth: dict, fill: int, exp: str
) -> None:
    truth = demo_truth[fill]
    archive = demo_root / "lumi" / "massi" / "2017" / "measurements" / exp / "lumi" / f"{fill}.tgz"
    meas = pd.read_parquet(products / f"fill_{fill}_lumi_meas.parquet").pivot(index="time", columns="slot", values=exp)
    grid = meas.index.to_numpy()
    slots = truth.coll_slots.tolist()
    assert meas.columns.tolist() == slots
    read = read_bunch_lumi(archive, fill, exp, slots)
    for slot in slots:
        written = _archive_table(archive, fill, exp, slot_to_bucket(slot))
        np.testing.assert_array_equal(read[slot], written)  # the reader returns exactly the file's values
        np.testing.assert_allclose(
            meas[slot].to_numpy(), np.interp(grid, written[:, 0], written[:, 2]) * 1e34, rtol=1e-12
        )
    # and the file holds the generator's luminosity (×1.015 calibration for CMS, 0.3 % noise per bunch)
    scale = {"ATLAS": 1.0, "CMS": 1.015}[exp]
    total = meas.to_numpy().sum(axis=1) / (_on_grid(truth.t, truth.lumi[exp], grid).sum(axis=1) * scale)
    assert np.abs(total - 1).max() < 0.002
