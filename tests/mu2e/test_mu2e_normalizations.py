"""Normalisation against the spec's reference numbers (§1–§4)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from include.core.errors import ConfigError, InputFileError, ParamError
from include.mu2e import spectra
from include.mu2e.conditions import Row, pinned, rows_from_csv, stop_rates
from include.mu2e.constants import BEAM_MODES, PhysicsConstants, ipa_decay_fraction_from_mix
from include.mu2e.normalizations import (
    Normalization,
    NormParams,
    StopRates,
    beam_livetime,
    draw_counts,
    number_of_pot,
    pot_per_second,
)


def rounds_to(value: float, quoted: str) -> bool:
    """True if ``value`` rounded to the significant digits of ``quoted`` gives ``quoted``."""
    mantissa = quoted.lower().split("e")[0].replace(".", "").lstrip("0")
    return float(f"{value:.{len(mantissa) - 1}e}") == float(quoted)


@pytest.mark.parametrize(
    ("bb", "mode", "method", "expected"),
    [
        ("1BB", "onspill", "spill", 9.3215e12),
        ("2BB", "onspill", "spill", 2.3186e13),
        ("1BB", "onspill", "cycle", 9.3112e12),
        ("2BB", "onspill", "cycle", 2.3229e13),
        ("1BB", "wallclock", "spill", 3.0075e12),
        ("2BB", "wallclock", "spill", 5.714e12),
    ],
)
def test_pot_rates(bb, mode, method, expected):
    assert pot_per_second(bb, mode, method) == pytest.approx(expected, rel=1e-4)


def test_pot_methods_agree_and_2bb_exceeds_1bb():
    for bb in BEAM_MODES:
        spill, cycle = pot_per_second(bb, "onspill", "spill"), pot_per_second(bb, "onspill", "cycle")
        assert abs(spill - cycle) / spill < 0.05
    assert pot_per_second("2BB") > pot_per_second("1BB")


def test_one_hour_wallclock_1bb_pot():
    params = NormParams(livetime_s=3600, livetime_mode="wallclock")
    assert rounds_to(number_of_pot(params), "1.08e16")


@pytest.mark.parametrize(("bb", "ratio"), [("1BB", 3.10), ("2BB", 4.07)])
def test_modes_differ_by_one_over_duty_factor(bb, ratio):
    onspill = number_of_pot(NormParams(bb=bb, livetime_s=1000, pot_method="cycle"))
    wall = number_of_pot(NormParams(bb=bb, livetime_s=1000, livetime_mode="wallclock"))
    assert onspill / wall == pytest.approx(ratio, abs=0.005)


def test_both_times_and_cosmic_target_recorded():
    on = beam_livetime(3230.0, "onspill", "1BB")
    assert (on.onspill_s, on.wallclock_s, on.cosmic_target_s) == pytest.approx((3230.0, 10000.0, 3230.0))
    wall = beam_livetime(10000.0, "wallclock", "1BB")
    assert (wall.onspill_s, wall.wallclock_s, wall.cosmic_target_s) == pytest.approx((3230.0, 10000.0, 3230.0))


def test_duty_factor_matches_spill_structure():
    for beam in BEAM_MODES.values():
        assert beam.spills_per_cycle * beam.spill_length_s / beam.cycle_s == pytest.approx(beam.duty_factor, rel=0.01)


# Every value of spec §4 that the collaboration's tables determine, to the digits the spec quotes.
DIO_CHECKS = [(75, "4.188e-7"), (90, "7.30e-10"), (95, "3.637e-11"), (100, "3.36e-13")]


@pytest.mark.parametrize(("emin", "expected"), DIO_CHECKS)
def test_dio_fraction(emin, expected):
    assert rounds_to(spectra.dio_fraction(emin), expected)


@pytest.mark.parametrize(("emin", "expected"), [(50, "0.98884"), (60, "0.97619"), (70, "0.95082"), (80, "0.90214")])
def test_rpc_fraction_on_bin_centres(emin, expected):
    assert rounds_to(spectra.rpc_fraction(emin), expected)


@pytest.mark.parametrize(("emin", "expected"), [(80, 0.04927), (85, 0.0071898), (88, 5.41e-4)])
def test_rmc_fraction(emin, expected):
    assert spectra.rmc_fraction(emin, 90.1) == pytest.approx(expected, rel=1e-3)


def test_rmc_bins_and_integer_cut():
    # 330 bins for k_max 90.1; E_min 57 keeps every bin
    assert spectra.rmc_fraction(57.0) == pytest.approx(1.0)
    assert spectra.rmc_fraction(85.0) == spectra.rmc_fraction(85.0 + 1e-12)


@pytest.mark.parametrize(("emin", "expected"), [(70, "2.538e-6"), (50, "0.0652")])
def test_ipa_first_threshold_strictly_above(emin, expected):
    assert rounds_to(spectra.ipa_efficiency(emin), expected)


def test_ipa_without_row_is_an_error():
    with pytest.raises(ParamError, match="ipa_emin"):
        spectra.ipa_efficiency(100.0)


def test_energy_outside_table_is_an_error():
    with pytest.raises(ParamError, match="dem_emin"):
        spectra.dio_fraction(120.0)
    with pytest.raises(ParamError, match="rmc_emin"):
        spectra.rmc_fraction(95.0)


def test_missing_table_is_an_error(tmp_path):
    with pytest.raises(InputFileError, match="missing"):
        spectra.dio_fraction(95, tmp_path)


def test_ipa_decay_fraction_from_ch_mix():
    assert ipa_decay_fraction_from_mix() == pytest.approx(PhysicsConstants().ipa_decay_per_stop, abs=5e-5)


def test_stop_rates_from_pinned_rows():
    rows, meta = pinned("spec-example")
    rates = stop_rates(rows)
    assert rates.target_mu_stops_per_pot == pytest.approx(1.53e-3, rel=3e-3)
    assert rates.target_pi_stops_per_pot == pytest.approx(9.71e-4, rel=1e-3)
    assert rates.pion_filter_eff == pytest.approx(0.1605, rel=1e-3)
    assert rates.pion_survival_weight == pytest.approx(2.39e-7, rel=2e-3)
    assert meta["run"] == 1430


def test_misspelt_or_missing_tag_fails_loudly():
    rows, _ = pinned("spec-example")
    rows = dict(rows)
    rows["PiSelectedLifeimeWeight_sampler"] = rows.pop("PiSelectedLifetimeWeight_sampler")
    with pytest.raises(ConfigError, match="PiSelectedLifetimeWeight_sampler"):
        stop_rates(rows)


def test_rows_from_csv():
    rows = rows_from_csv("tag,numerator,denominator,eff\nMuBeamCat,1,2,0.5\n")
    assert rows == {"MuBeamCat": Row(1.0, 2.0, 0.5)}


@pytest.fixture
def illustrative() -> Normalization:
    """Spec §4 example: onspill, spill, 1BB, t_on 4.4e6 s, 1.56e-3 stops/POT, example DB values."""
    rates = StopRates(1.56e-3, 0.0, 0.001880093 * 0.5165587875, 6634478 / 41324703, 2393.604874 / 1e10)
    params = NormParams(livetime_s=4.4e6, rue=1e-13, dem_emin=95, rpc_emin=50, rmc_emin=85)
    return Normalization(params, rates)


def test_illustrative_yields(illustrative):
    norm = illustrative
    assert rounds_to(norm.n_pot, "4.10e19") and rounds_to(norm.n_mu_stops, "6.40e16")
    expected = {
        "CeMLeadingLog": "3.9e3",
        "DIO": "9.1e5",
        "RPCExternal": "3.25e7",
        "RPCInternal": "2.2e5",
        "RMCExternal": "4.0e9",
        "RMCInternal": "2.8e7",
    }
    for process, quoted in expected.items():
        assert rounds_to(norm.yield_of(process).mean, quoted), (process, norm.yield_of(process).mean)
    assert norm.inverse_rue(norm.yield_of("CeMLeadingLog").mean) == pytest.approx(1e-13)


def test_published_one_hour_table_omits_dio_fraction():
    """The published 7.10e6 (>75 MeV) and 609 (>95 MeV) for 1 h are ours divided by 0.391."""
    rates = StopRates(1.56e-3, 0.0, 1.0, 1.0, 1.0)
    for emin, published in ((75, 7.10e6), (95, 609)):
        norm = Normalization(NormParams(livetime_s=3600, livetime_mode="wallclock", dem_emin=emin), rates)
        assert norm.yield_of("DIO").mean / 0.391 == pytest.approx(published, rel=0.02)


def test_rmc_uses_the_campaign_bb_mode():
    one = Normalization(NormParams(bb="1BB")).yield_of("RMCExternal").mean
    two = Normalization(NormParams(bb="2BB")).yield_of("RMCExternal").mean
    assert two / one == pytest.approx(pot_per_second("2BB") / pot_per_second("1BB"))


def test_tmin_does_not_change_rpc():
    a = Normalization(NormParams(tmin=350)).yield_of("RPCExternal").mean
    b = Normalization(NormParams(tmin=700)).yield_of("RPCExternal").mean
    assert a == b


def test_lazy_per_process_invalid_other_args_do_not_matter():
    norm = Normalization(NormParams(ipa_emin=100.0))  # no IPA row above 100: only IPA fails
    assert norm.yield_of("DIO").mean > 0
    with pytest.raises(ParamError, match="ipa_emin"):
        norm.yield_of("IPAMichel")


def test_draws_seeded_and_stable():
    norm = Normalization(NormParams())
    first, second = norm.report(seed=7), Normalization(NormParams()).report(seed=7)
    assert first == second
    assert first["draws"] == draw_counts(first["means"], 7)
    other = norm.report(seed=8)["draws"]
    assert other != first["draws"]
    for name, mean in first["means"].items():
        assert abs(first["draws"][name] - mean) < 6 * math.sqrt(mean) + 6


def test_constant_overrides_are_recorded():
    norm = Normalization(NormParams(constants={"rmc_per_capture": 1.41e-5}))
    assert norm.report()["constants"]["rmc_per_capture"] == 1.41e-5
    with pytest.raises(ParamError, match="unknown constants"):
        Normalization(NormParams(constants={"nope": 1}))


@pytest.mark.parametrize("bad", [{"bb": "3BB"}, {"livetime_mode": "years"}, {"livetime_s": -1.0}, {"rue": 2.0}])
def test_invalid_params(bad):
    with pytest.raises(ParamError):
        NormParams(**bad)


def test_cli_prints_table():
    proc = subprocess.run(
        [sys.executable, "-m", "include.mu2e.normalizations", "--livetime", "1 h", "--seed", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "N_POT 3.3558e+16" in proc.stdout
    assert "DIO" in proc.stdout and "IPAMichel" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "include.mu2e.normalizations", "--livetime", "1 week"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "livetime" in bad.stderr


def test_pin_a_query_result(tmp_path):
    from include.mu2e.conditions import pin

    config = tmp_path / "conditions.yaml"
    rows, _ = pinned("spec-example")
    pin(rows, "MDC2025-run1430", purpose="Sim_best", version="v1_1", run=1430, config_file=config)
    again, meta = pinned("MDC2025-run1430", config)
    assert again == rows and meta["run"] == 1430
    assert config.read_text().startswith("# Pinned SimEfficiencies2")
    assert pin(rows, "MDC2025-run1430", purpose="Sim_best", version="v1_1", run=1430, config_file=config) == config
    with pytest.raises(ConfigError, match="already pinned"):
        pin(rows, "MDC2025-run1430", purpose="Sim_best", version="v1_1", run=1200, config_file=config)
    broken = {k: v for k, v in rows.items() if k != "PhysicalPionStops"}
    with pytest.raises(ConfigError, match="PhysicalPionStops"):
        pin(broken, "other", purpose="Sim_best", version="v1_1", run=1430, config_file=config)
