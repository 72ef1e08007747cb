"""Command line of the dark-brem campaign (no Airflow needed).

    python -m include.darkbrem extract LIB_DIR --aprime-id 1023 [-o OUT.csv.gz] [--csv-format v1]
    python -m include.darkbrem plan PARAMS.json              # validate and print the units
    python -m include.darkbrem run PARAMS.json [--force STEP] # run every chain here, then the summary
    python -m include.darkbrem images DEST                   # build the local stand-in images

PARAMS.json holds the DAG's parameters (missing ones take the DAG defaults). Exit codes: 0 ok,
1 some chain failed, 2 invalid parameters.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from include.core.errors import ParamError, ProductionError
from include.settings import load_settings


def _campaign(path: Path) -> dict:
    from include.darkbrem.campaign import validate

    return validate(json.loads(path.read_text()), load_settings())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "extract":
        from include.darkbrem.extract import main as extract_main

        return extract_main(args[1:])
    if args and args[0] == "images":
        from include.darkbrem.standin import main as images_main

        return images_main(args[1:])
    parser = argparse.ArgumentParser(prog="python -m include.darkbrem", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract", help="native g4db-extract-library (see --help of that command)")
    sub.add_parser("images", help="build the stand-in images")
    plan_p = sub.add_parser("plan", help="validate the parameters and print the units")
    plan_p.add_argument("params", type=Path)
    run_p = sub.add_parser("run", help="run every chain in this process")
    run_p.add_argument("params", type=Path)
    run_p.add_argument("--force", default=None, help="none | all | generate | extract | simulate")
    opts = parser.parse_args(args)
    from include.darkbrem.campaign import plan

    try:
        campaign = _campaign(opts.params)
        units = plan(campaign)
    except (ParamError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if opts.command == "plan":
        print(json.dumps(units, indent=2))
        return 0
    from include.darkbrem.chain import run_step
    from include.darkbrem.summary import write_summary

    force = opts.force or campaign["force"]
    for unit in units:
        for step in ("generate", "extract", "simulate"):
            try:
                result = run_step(unit, step, force)
            except ProductionError as exc:
                print(f"{unit['key']} {step}: FAILED {exc}", file=sys.stderr)
                break
            print(f"{unit['key']} {step}: {result['state']} ({result['reason']})")
    totals = write_summary(campaign, units)
    print(json.dumps(totals, indent=2))
    return 0 if not totals["failed"] and not totals["incomplete"] else 1


if __name__ == "__main__":
    sys.exit(main())
