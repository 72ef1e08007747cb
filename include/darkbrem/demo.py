"""Demo inputs of the dark-brem campaign: the simulation config and the local stand-in images.

Writes ``<data root>/ldmx_darkbrem_signal/config.py`` and, when a container runtime is configured
(``HEP_APPTAINER_BIN``; ``./scripts/run.sh`` sets up apptainer inside the checkout with
``scripts/install-demo-tools.sh``), builds ``images/dbgen-v4.sif``, ``dbgen-v5.sif`` and
``ldmx-pro.sif`` (see :mod:`include.darkbrem.standin`), which the DAG's default parameters use.
Without one it writes ``images/README.txt`` saying what is missing and the commands that get it;
:func:`missing` then lists the images, so the next ``python -m include.demo`` builds them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from include.core import atomic
from include.core.errors import ProductionError
from include.darkbrem.standin import (
    IMAGE_NAMES,
    apptainer_missing,
    build_standin_images,
    sim_config_text,
)
from include.settings import load_settings

log = logging.getLogger(__name__)
NOTE = "README.txt"


def missing(target: Path) -> list[Path]:
    """The demo's files that are absent below ``target`` (the images need apptainer)."""
    want = [target / "config.py", *(target / "images" / f"{name}.sif" for name in IMAGE_NAMES)]
    return [path for path in want if not path.is_file()]


def generate(target: Path, seed: int) -> list[Path]:
    """Write the demo inputs below ``target``; return the files written (``seed`` is not needed)."""
    written = [atomic.write_text(target / "config.py", sim_config_text())]
    images = target / "images"
    apptainer_bin = load_settings().apptainer_bin
    problem = apptainer_missing(apptainer_bin)
    if problem is None:
        try:
            built = build_standin_images(images)
        except (ProductionError, OSError) as exc:
            problem = f"building them failed: {exc}"
        else:
            (images / NOTE).unlink(missing_ok=True)
            for sif in built.values():
                written += [sif, Path(str(sif) + ".standin.json")]
            return written
    note = (
        f"The stand-in images of ldmx_darkbrem_signal were not built: {problem}\n"
        f"Then build them with `python -m include.darkbrem.standin {images}` "
        "(./scripts/run.sh does it when it starts).\n"
    )
    log.warning("ldmx_darkbrem_signal demo: %s", " ".join(note.split()))
    return [*written, atomic.write_text(images / NOTE, note)]
