"""Stand-in of ``LDMX.Biasing.target.dark_brem`` (design4gev settings, spec §6)."""

EPSILON = 0.01


class DarkBremSimulator:
    """What the real function configures, kept as plain attributes."""

    def __init__(self, ap_mass: float, lhe: str, detector: str, aprime_lhe_id: int = 622) -> None:
        self.name = f"target_dark_brem_{ap_mass}_MeV"
        self.ap_mass = float(ap_mass)  # MeV
        self.library = lhe
        self.detector = detector
        self.aprime_lhe_id = aprime_lhe_id
        self.beam_energy = 4.0  # GeV, upstream-tagger gun
        self.threshold = max(2.0, 2 * self.ap_mass / 1000.0)  # GeV
        self.bias = self.ap_mass**2 / EPSILON**2
        self.method = "forward_only"


def dark_brem(ap_mass: float, lhe: str, detector: str, **kwargs: object) -> DarkBremSimulator:
    return DarkBremSimulator(ap_mass, lhe, detector, **kwargs)  # type: ignore[arg-type]
