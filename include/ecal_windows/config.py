"""Configuration of the window stage (spec §3), validated with errors naming the parameter."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from include.core.errors import ParamError

STRATEGIES = (
    "sim_fraction",
    "sim_fraction_noHitsFraction",
    "sim_nSharedXtals",
    "simEnergy_sharedXtals",
    "recoEnergy_sharedXtals",
    "recoToSim_fraction",
    "recoToSim_fraction_sharedXtals",
    "dR_simScore",
    "dR_genScore",
)
WINDOW_VERSIONS = ("v3", "v2")
SEED_GEN_CHECKS = ("readme", "legacy")
FLAVOURS = (11, 22)


@dataclass(frozen=True)
class WindowConfig:
    """Options of the window algorithm; defaults are the spec's production defaults."""

    assoc_strategy: str = "sim_fraction"
    overlap: bool = False
    maxnocalow: int = 0
    min_et_seed: float = 1.0
    pu_limit: float = 1e6
    seed_min_fraction: float = 1e-2
    cl_min_fraction: float = 1e-4
    do_pu_sim: bool = False
    window_version: str = "v3"
    seed_gen_check: str = "readme"
    random_seed: int = 0
    flavour: int = 11

    def __post_init__(self) -> None:
        if self.assoc_strategy not in STRATEGIES:
            raise ParamError("assoc_strategy", f"{self.assoc_strategy!r} is not one of {', '.join(STRATEGIES)}")
        if self.window_version not in WINDOW_VERSIONS:
            raise ParamError("window_version", f"{self.window_version!r} is not one of {WINDOW_VERSIONS}")
        if self.seed_gen_check not in SEED_GEN_CHECKS:
            raise ParamError("seed_gen_check", f"{self.seed_gen_check!r} is not one of {SEED_GEN_CHECKS}")
        if int(self.flavour) not in FLAVOURS:
            raise ParamError("flavour", f"{self.flavour!r} is not one of {FLAVOURS}")
        if not isinstance(self.maxnocalow, int) or isinstance(self.maxnocalow, bool) or self.maxnocalow < 0:
            raise ParamError("maxnocalow", f"{self.maxnocalow!r} must be an integer >= 0")
        if not isinstance(self.random_seed, int) or isinstance(self.random_seed, bool) or self.random_seed < 0:
            raise ParamError("random_seed", f"{self.random_seed!r} must be an integer >= 0")
        for name in ("min_et_seed", "pu_limit", "seed_min_fraction", "cl_min_fraction"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not value >= 0:
                raise ParamError(name, f"{value!r} must be a number >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ParamError(sorted(unknown)[0], "unknown window option")
        return cls(**data)
