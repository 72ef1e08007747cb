"""Configuration files: load, validate, look up."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.core.errors import ConfigError
from include.lumi.config import YEARS, config_from_dict, load_config, load_config_file


@pytest.mark.parametrize("year", YEARS)
def test_years_load(year: int) -> None:
    cfg = load_config(year)
    assert cfg.year == year and cfg.first_fill <= cfg.last_fill
    assert cfg.calibration(cfg.first_fill + 1)["name"]


def test_2017_defaults() -> None:
    cfg = load_config(2017)
    assert (cfg.first_fill, cfg.last_fill, cfg.min_time_SB, cfg.t_step_sec) == (5695, 7001, 300, 300)
    assert cfg.models == ["EmpiricalBlowupLosses"] and cfg.doSBModel is False
    assert cfg.sigmaBOff_m2 == pytest.approx(80e-31) and cfg.sigma_el_m2 == pytest.approx(29.7e-31)
    assert cfg.leveling(5439) == 8e37 and cfg.leveling(6140) == 0.0
    # XingAngle: half-open ranges, full angle
    assert cfg.xing_angle(5329) == (370e-6, 370e-6) and cfg.xing_angle(5330) == (280e-6, 280e-6)
    assert cfg.xing_angle(5705) == (280e-6, 300e-6)
    assert cfg.xing_angle(5833) == (240e-6, 240e-6) and cfg.xing_angle(6140) == (300e-6, 300e-6)
    assert cfg.betastar(6193) == 0.40 and cfg.betastar(6194) == 0.30
    assert cfg.calibration(6054)["name"] == "A-2017" and cfg.calibration(6055)["name"] == "B-2017"
    cal = cfg.calibration_for(6140, 450, 1)
    assert cal["gamma"] == 479.6 and 190 <= cal["betaf_h"] <= 210


def test_2016_defaults() -> None:
    cfg = load_config(2016)
    assert (cfg.first_fill, cfg.last_fill, cfg.min_time_SB, cfg.t_step_sec) == (5005, 5457, 1800, 600)
    assert len(cfg.models) == 4 and cfg.period(5256) == "B" and cfg.period(5255) == "A"
    assert cfg.betastar(5300) == 0.40 and cfg.VRF_FT == 10e6


def test_validation_names_the_key(tmp_path: Path) -> None:
    base = load_config(2017).to_dict()
    with pytest.raises(ConfigError, match=r"unknown keys \['t_stepsec'\]"):
        config_from_dict({**base, "t_stepsec": 3})
    with pytest.raises(ConfigError, match="'t_step_sec'"):
        config_from_dict({**base, "t_step_sec": -5})
    with pytest.raises(ConfigError, match="'models'"):
        config_from_dict({**base, "models": ["Nope"]})
    with pytest.raises(ConfigError, match="'XingAngle'"):
        config_from_dict({**base, "XingAngle": [{"fills": [0, 10], "angle": [300, 300]}]})
    bad = tmp_path / "c.yaml"
    bad.write_text("year: [")
    with pytest.raises(ConfigError, match=r"c\.yaml"):
        load_config_file(bad)
    with pytest.raises(ConfigError, match="no lumi configuration"):
        load_config(2015)
