"""Stand-in of ``LDMX.Framework.ldmxcfg``: the Process object a config script fills in."""


class Process:
    """The processing pass; the last one constructed is what ``fire`` runs."""

    lastProcess = None

    def __init__(self, pass_name: str) -> None:
        self.passName = pass_name
        self.run = -1
        self.maxEvents = -1
        self.maxTriesPerEvent = 1
        self.outputFiles: list[str] = []
        self.histogramFile = ""
        self.sequence: list[object] = []
        Process.lastProcess = self
