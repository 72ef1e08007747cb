"""Terminal entry point of the Mu2e ensemble production.

    python -m include.mu2e run   --tag MDS3c --livetime "1 h" [--njobs 4] [--seed 1] [--stage2 native|art] ...
    python -m include.mu2e step  STEP --tag MDS3c ...     (normalize | campaign | jobs | validate | summary)
    python -m include.mu2e job   INDEX --tag MDS3c ...    (one mapped unit)
    python -m include.mu2e demo  [--seed 2017]            (demo inputs into <data root>/mu2e)

The options are the trigger form's fields; paths are confined to the data and output roots.
Normalisation table only: ``python -m include.mu2e.normalizations``.
"""

from __future__ import annotations

import argparse
import json
import sys

from include.core.errors import ProductionError
from include.mu2e import form


def _form(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tag", default=form.DEFAULT_TAG)
    parser.add_argument("--livetime", default=form.DEFAULT_LIVETIME)
    parser.add_argument("--livetime-mode", dest="livetime_mode", default=form.DEFAULT_LIVETIME_MODE)
    parser.add_argument("--BB", dest="BB", default=form.DEFAULT_BB)
    parser.add_argument("--rue", type=float, default=form.DEFAULT_RUE)
    parser.add_argument("--dem-emin", dest="dem_emin", type=float, default=form.DEFAULT_DEM_EMIN)
    parser.add_argument("--tmin", type=float, default=form.DEFAULT_TMIN)
    parser.add_argument("--processes", default=None, help="comma-separated (default: cosmics and backgrounds)")
    parser.add_argument("--njobs", type=int, default=form.DEFAULT_NJOBS)
    parser.add_argument("--seed", type=int, default=form.DEFAULT_SEED)
    parser.add_argument("--data-dir", dest="data_dir", default=form.DEFAULT_DATA_DIR)
    parser.add_argument("--output-format", dest="output_format", default=form.DEFAULT_OUTPUT_FORMAT)
    parser.add_argument("--ledger-url", dest="ledger_url", default="")
    parser.add_argument("--stage2", default=form.DEFAULT_STAGE2)
    parser.add_argument("--art-image", dest="art_image", default="")
    parser.add_argument("--owner", default="")
    parser.add_argument("--force", default="none")


def _conf(args: argparse.Namespace) -> dict:
    from include.mu2e import pipeline

    values = {k: v for k, v in vars(args).items() if k not in ("command", "force", "step", "index", "seed_demo")}
    values["processes"] = args.processes.split(",") if args.processes else None
    return pipeline.validate_params(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.mu2e", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _form(sub.add_parser("run", help="every step, jobs one after the other"))
    step = sub.add_parser("step", help="one campaign step")
    step.add_argument("step", choices=["normalize", "campaign", "jobs", "validate", "summary"])
    _form(step)
    job = sub.add_parser("job", help="one job (mapped unit)")
    job.add_argument("index", type=int)
    _form(job)
    demo = sub.add_parser("demo", help="write the demo inputs into <data root>/mu2e")
    demo.add_argument("--seed", dest="seed_demo", type=int, default=2017)
    args = parser.parse_args(argv)
    from include.mu2e import pipeline

    try:
        if args.command == "demo":
            from include.demo import generate
            from include.settings import load_settings

            result = generate(load_settings().data_root, ["mu2e"], args.seed_demo)
        elif args.command == "run":
            result = pipeline.run_all(_conf(args), args.force)["summary"]
        elif args.command == "step":
            result = pipeline.run_campaign_step(_conf(args), args.step, args.force)
        else:
            result = pipeline.run_job(_conf(args), args.index, args.force)
    except (ProductionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
