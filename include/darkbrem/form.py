"""The ldmx_darkbrem_signal trigger form (the DAG file only wires it): fields, choices and defaults
from include.darkbrem.campaign and include.darkbrem.library. Airflow is imported only by :func:`params`."""

from __future__ import annotations

from typing import Any

from include.darkbrem.campaign import BACKENDS, DEFAULTS, EXTRACTIONS, FORCE_CHOICES
from include.darkbrem.extract import CSV_FORMATS
from include.darkbrem.library import KNOWN_VERSIONS, LEPTONS, TARGETS


def params() -> dict[str, Any]:
    """The form's fields (``airflow.sdk.Param``), HTCondor section included."""
    from airflow.sdk import Param

    from include.core import dagkit

    return {
        "campaign": Param(
            DEFAULTS["campaign"],
            type="string",
            pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$",
            description="Campaign name: the folder below <output root>/ldmx_darkbrem_signal/.",
        ),
        "masses": Param(
            DEFAULTS["masses"],
            type="array",
            items={"type": "number", "exclusiveMinimum": 0},
            minItems=1,
            maxItems=256,
            description="A' masses in GeV (the generator's --apmass); the simulation gets 1000 x in MeV.",
        ),
        "masses_mev": Param(
            None,  # empty: derived (see the description)
            type=["null", "array"],
            items={"type": "number", "exclusiveMinimum": 0},
            maxItems=256,
            description="Optional: the simulation masses in MeV, one per mass; each must equal 1000 x the GeV mass.",
        ),
        "runs_per_mass": Param(
            DEFAULTS["runs_per_mass"],
            type="integer",
            minimum=1,
            maximum=1024,
            description="Runs per mass, numbered from first_run (ignored when run_numbers is given).",
        ),
        "first_run": Param(
            DEFAULTS["first_run"], type="integer", minimum=0, description="First run number when runs_per_mass is used."
        ),
        "run_numbers": Param(
            None,  # empty: derived (see the description)
            type=["null", "array"],
            items={
                "anyOf": [
                    {"type": "integer", "minimum": 0},
                    {"type": "array", "items": {"type": "integer"}, "maxItems": 1024},
                ]
            },
            maxItems=1024,
            description="Explicit run numbers: one list for every mass, or one list per mass. Unique per mass "
            "(the run seeds MadGraph and the simulation). Empty: runs_per_mass runs from first_run.",
        ),
        "nevents": Param(
            DEFAULTS["nevents"],
            type="integer",
            minimum=1,
            maximum=99999,
            description="Generated events per incident-energy point (MadGraph limit: < 100k per seed).",
        ),
        "sim_events": Param(
            DEFAULTS["sim_events"],
            type="integer",
            minimum=1,
            maximum=10_000_000,
            description="Simulated events per (mass, run).",
        ),
        "targets": Param(
            DEFAULTS["targets"],
            type="array",
            items={"type": "string", "enum": list(TARGETS)},
            minItems=1,
            maxItems=len(TARGETS),
            uniqueItems=True,
            description="Target nuclei of the library (several need dbgen >= 4.5; oxygen 4.5, lutetium/yttrium 4.6).",
        ),
        "lepton": Param(DEFAULTS["lepton"], type="string", enum=list(LEPTONS), description="Beam lepton."),
        "max_energy": Param(
            DEFAULTS["max_energy"],
            type="number",
            minimum=0,
            maximum=1000,
            description="Maximum incident energy in GeV; 0 = the version's default (4 for v4, 8 for v5).",
        ),
        "generator_version": Param(
            DEFAULTS["generator_version"],
            type="string",
            enum=list(KNOWN_VERSIONS),
            description="dbgen version of the image: decides options (v4 underscores, v5.1+ dashes), default "
            "energy and the A' id (622 for v4, 1023 for v5).",
        ),
        "dbgen_image": Param(
            DEFAULTS["dbgen_image"],
            type="string",
            minLength=1,
            description="Generator image (SIF), relative to the data root or absolute (data root or /cvmfs).",
        ),
        "ldmx_image": Param(
            DEFAULTS["ldmx_image"],
            type="string",
            minLength=1,
            description="ldmx-sw image (SIF) with g4db-extract-library and fire; same G4DarkBreM major as the CSV.",
        ),
        "sim_config": Param(
            DEFAULTS["sim_config"],
            type="string",
            minLength=1,
            description="Simulation config script for fire (inside the data root); takes --run --nevents "
            "--apmass (MeV) --library --out-dir.",
        ),
        "output_root": Param(
            None,  # empty: derived (see the description)
            type=["null", "string"],
            description="Output root (inside the configured HEP_OUTPUT_ROOT); empty = HEP_OUTPUT_ROOT itself.",
        ),
        "backend": Param(
            DEFAULTS["backend"],
            type="string",
            enum=list(BACKENDS),
            description="local: containers run with apptainer from the Airflow worker; condor: each step is an "
            "HTCondor job that runs the container.",
        ),
        "extraction": Param(
            DEFAULTS["extraction"],
            type="string",
            enum=list(EXTRACTIONS),
            description="native: the streaming Python extraction; container: g4db-extract-library in the ldmx image.",
        ),
        "csv_format": Param(
            DEFAULTS["csv_format"],
            type="string",
            enum=list(CSV_FORMATS),
            description="Library CSV format: v2 (10 columns, G4DarkBreM >= 2) or v1 (9 columns, ldmx-sw 3.2.1-3.2.8).",
        ),
        "force": dagkit.force_param(list(FORCE_CHOICES)),
        **dagkit.condor_params(),
    }
