"""Demo inputs of the dark-brem campaign: the simulation config and the local stand-in images.

Writes ``<data root>/ldmx_darkbrem_signal/config.py`` and, when apptainer (or the pool's
wrapper) and busybox are available, builds ``images/dbgen-v4.sif``, ``dbgen-v5.sif`` and
``ldmx-pro.sif`` (see :mod:`include.darkbrem.standin`), which the DAG's default parameters use.
Without a container runtime it writes ``images/README.txt`` saying how to build them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from include.core import atomic
from include.core.errors import ProductionError
from include.darkbrem.standin import build_standin_images, sim_config_text

log = logging.getLogger(__name__)


def generate(target: Path, seed: int) -> list[Path]:
    """Write the demo inputs below ``target``; return the files written (``seed`` is not needed)."""
    written = [atomic.write_text(target / "config.py", sim_config_text())]
    images = target / "images"
    try:
        built = build_standin_images(images)
    except (ProductionError, OSError) as exc:
        note = (
            f"The stand-in images were not built here ({exc}).\n"
            "Build them with: bash docker/condor/setup-pool.sh && "
            "source /var/lib/hep-productions/condor-pool/env.sh && "
            f"docker/images/ldmx/build.sh {images}\n"
        )
        log.warning("ldmx_darkbrem_signal demo: %s", note.strip())
        return [*written, atomic.write_text(images / "README.txt", note)]
    for sif in built.values():
        written += [sif, Path(str(sif) + ".standin.json")]
    return written
