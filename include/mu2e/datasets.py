"""Dataset names per process label, from the versioned templates in ``config/datasets.yaml``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from include.core.errors import ParamError

CONFIG_FILE = Path(__file__).resolve().parent / "config" / "datasets.yaml"


@lru_cache(maxsize=4)
def _templates(path: str) -> dict:
    return yaml.safe_load(Path(path).read_text())


def dataset_name(
    label: str,
    *,
    cosmics: str = "MDC2025ac",
    gen: str = "Signal",
    release: str = "MDC2025",
    version: str = "af",
    dem_emin: float = 95.0,
    fmt: str = "root",
    config_file: str | Path = CONFIG_FILE,
) -> str:
    """The dataset of ``label`` (e.g. ``DIO`` → ``dts.mu2e.DIOtail95.MDC2025af.root``)."""
    config = _templates(str(config_file))
    try:
        template = config["templates"][label]
    except KeyError:
        raise ParamError("processes", f"no dataset template for {label!r}") from None
    emin = int(dem_emin) if float(dem_emin).is_integer() else dem_emin
    return template.format(
        owner=config.get("owner", "mu2e"), gen=gen, cosmics=cosmics, rel=release, ver=version, emin=emin, fmt=fmt
    )
