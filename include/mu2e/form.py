"""The mu2e_ensemble trigger form: its fields, choices and defaults (the DAG file only wires them).

Light to import (the DAG processor reads it at parse time); Airflow is imported only by
:func:`params`. The defaults here are the campaign's defaults everywhere: the form, the command
line (``python -m include.mu2e``), ``pipeline.validate_params`` and the spec dataclasses.
Tag and livetime patterns come from :mod:`include.mu2e.naming`; ``tests/dags/test_mu2e_ensemble.py``
checks the force choices against the campaign and job step graphs.
"""

from __future__ import annotations

from typing import Any

from include.core.paths import SAFE_NAME
from include.mu2e.constants import BEAM_MODES, LIVETIME_MODES
from include.mu2e.naming import LIVETIME_PATTERN, TAG_PATTERN

COSMIC = "CRYCosmic"
PROCESSES = (
    "CeMLeadingLog",
    "CePLeadingLog",
    "DIO",
    "RPCExternal",
    "RPCInternal",
    "RMCExternal",
    "RMCInternal",
    "IPAMichel",
)
"""Beam processes (the cosmics are :data:`COSMIC`)."""
ALL_PROCESSES = (COSMIC, *PROCESSES)
DEFAULT_PROCESSES = (COSMIC, "DIO", "RPCExternal", "RPCInternal", "RMCExternal", "RMCInternal", "IPAMichel")
"""The processes of a campaign that names none (the signal processes are opt-in)."""
FORCE_CHOICES = ("none", "all", "normalize", "campaign", "jobs", "mix", "art", "validate", "summary")
BACKENDS = ("local", "condor", "apptainer")
OUTPUT_FORMATS = ("parquet", "root")
STAGE2 = ("native", "art")
MAX_JOBS = 1024

DEFAULT_TAG = "MDS3c"
DEFAULT_LIVETIME = "1 h"
DEFAULT_LIVETIME_MODE = "onspill"
DEFAULT_BB = "1BB"
DEFAULT_RUE = 1e-13
DEFAULT_DEM_EMIN = 95.0
DEFAULT_TMIN = 350.0
DEFAULT_NJOBS = 4
DEFAULT_SEED = 1
DEFAULT_CONDITIONS = "spec-example"
DEFAULT_DATA_DIR = "mu2e"
DEFAULT_OUTPUT_FORMAT = "parquet"
DEFAULT_STAGE2 = "native"
ART_IMAGE_NAME = "mu2e-standin.sif"
DEFAULT_ART_IMAGE = f"mu2e/images/{ART_IMAGE_NAME}"
"""The local stand-in image (docker/images/mu2e/build.sh), relative to the data root."""
OPTIONAL_NAME = "^(" + SAFE_NAME.removeprefix("^").removesuffix("$") + ")?$"


def params() -> dict[str, Any]:
    """The form's fields (``airflow.sdk.Param``), HTCondor section included."""
    from airflow.sdk import Param

    from include.core import dagkit

    return {
        "tag": Param(
            DEFAULT_TAG,
            type="string",
            pattern=TAG_PATTERN,
            title="Ensemble tag",
            description="Mu2e ensemble tag MDS<generation><letter>, e.g. MDS3c; names the output folder and files.",
        ),
        "livetime": Param(
            DEFAULT_LIVETIME,
            type="string",
            pattern=LIVETIME_PATTERN,
            title="Livetime",
            description="Beam time with a unit (s, min, h, d), e.g. '1 h' or '3600 s'; on-spill or wall-clock "
            "seconds per the livetime mode. Must be > 0.",
        ),
        "livetime_mode": Param(
            DEFAULT_LIVETIME_MODE,
            type="string",
            enum=list(LIVETIME_MODES),
            title="Livetime convention",
            description="onspill: the livetime is on-spill time (current default); wallclock: calendar time "
            "(Oct-2024 convention; POT differ by the duty factor).",
        ),
        "BB": Param(
            DEFAULT_BB,
            type="string",
            enum=list(BEAM_MODES),
            title="Booster-batch mode",
            description="One or two booster batches per Main-Injector cycle (sets protons per micro-bunch, duty "
            "factor and cycle).",
        ),
        "rue": Param(
            DEFAULT_RUE,
            type="number",
            minimum=0,
            maximum=1e-8,
            title="R_µe",
            description="Conversion rate R_µe for the CE signal processes (CeMLeadingLog, CePLeadingLog).",
        ),
        "dem_emin": Param(
            DEFAULT_DEM_EMIN,
            type="number",
            minimum=1.0,
            maximum=104.97,
            title="DIO minimum energy (MeV)",
            description="Minimum DIO electron energy; picks the DIOtail<emin> input dataset.",
        ),
        "tmin": Param(
            DEFAULT_TMIN,
            type="number",
            minimum=0,
            maximum=1695,
            title="t_min (ns)",
            description="Minimum pion stop time recorded with the RPC inputs; it does not change the yields.",
        ),
        "processes": Param(
            list(DEFAULT_PROCESSES),
            type="array",
            items={"type": "string", "enum": list(ALL_PROCESSES)},
            minItems=1,
            maxItems=len(ALL_PROCESSES),
            uniqueItems=True,
            title="Processes",
            description="Processes mixed into the ensemble (CRYCosmic is the livetime standard).",
        ),
        "njobs": Param(
            DEFAULT_NJOBS,
            type="integer",
            minimum=1,
            maximum=MAX_JOBS,
            title="Jobs",
            description="Number of jobs; the first njobs files of every dataset are the inputs.",
        ),
        "seed": Param(
            DEFAULT_SEED,
            type="integer",
            minimum=0,
            maximum=2**31 - 1,
            title="Seed base",
            description="Base of every seed; job seeds are derived from (tag, stage, job index, base).",
        ),
        "conditions": Param(
            DEFAULT_CONDITIONS,
            type="string",
            pattern=SAFE_NAME,
            title="Conditions set",
            description="Pinned SimEfficiencies2 rows (stops per POT, pion efficiencies) to normalise with; the "
            "mu2e_conditions DAG queries the conditions DB and pins a new set. spec-example: the spec's example "
            "values (IPAStopsCat there is a placeholder).",
        ),
        "data_dir": Param(
            DEFAULT_DATA_DIR,
            type="string",
            minLength=1,
            title="Input folder",
            description="Folder of the input datasets, relative to (or inside) the data root.",
        ),
        "output_format": Param(
            DEFAULT_OUTPUT_FORMAT,
            type="string",
            enum=list(OUTPUT_FORMATS),
            title="Output format",
            description="Ensemble file format: parquet or ROOT (uproot), both with truth columns.",
        ),
        "ledger_url": Param(
            None,
            type=["null", "string"],
            title="Ledger database",
            description="SQLAlchemy URL of the ledger of used input entries; empty: SQLite in the output root "
            "(production: postgresql+psycopg2://...).",
        ),
        "stage2": Param(
            DEFAULT_STAGE2,
            type="string",
            enum=list(STAGE2),
            title="Stage 2",
            description="native: mix the flat ntuples in Python with the ledger (no event used twice); art: write "
            "the SamplingInput fcl and job definition and run `mu2e -c` per job in the Mu2e image.",
        ),
        "art_image": Param(
            DEFAULT_ART_IMAGE,
            type="string",
            minLength=1,
            title="Mu2e image (art)",
            description="SIF of the Mu2e image for stage2=art, relative to (or inside) the data root; the default is "
            "the local stand-in built by docker/images/mu2e/build.sh.",
        ),
        "owner": Param(
            None,
            type=["null", "string"],
            pattern=OPTIONAL_NAME,
            title="Dataset owner (art)",
            description="dsowner of the job definition; empty: the submitting user (mu2epro maps to mu2e).",
        ),
        "backend": dagkit.backend_param(choices=BACKENDS),
        "force": dagkit.force_param(list(FORCE_CHOICES)),
        **dagkit.condor_params(),
    }


def conditions_params() -> dict[str, Any]:
    """The mu2e_conditions form (``airflow.sdk.Param``): the query and the key to pin it under."""
    from airflow.sdk import Param

    from include.mu2e import conditions as c

    return {
        "key": Param(
            None,
            type=["null", "string"],
            pattern=c.NAME_PATTERN,
            title="Key of the pinned set",
            description="Name ensembles use in their `conditions` field, e.g. MDC2025-Sim_best-1430. Never reused "
            "for another query. Empty: <purpose>-<version>-<run>.",
        ),
        "purpose": Param(
            c.DEFAULT_PURPOSE,
            type="string",
            enum=list(c.PURPOSES),
            title="Query purpose",
            description="Conditions purpose: Sim_best (current) or MDC2020_best (Oct-2024 campaigns, run 1200).",
        ),
        "version": Param(
            c.DEFAULT_VERSION,
            type="string",
            pattern=c.NAME_PATTERN,
            title="Query version",
            description="Purpose version.",
        ),
        "run": Param(
            c.DEFAULT_RUN,
            type="integer",
            minimum=1,
            title="Run number",
            description="Run whose conditions are queried.",
        ),
        "description": Param(
            None,
            type=["null", "string"],
            maxLength=c.MAX_DESCRIPTION,
            title="Description",
            description="Free text kept with the set. Empty: 'SimEfficiencies2 <purpose> <version> run <run>'.",
        ),
    }
