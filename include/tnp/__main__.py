"""Command line of the tag-and-probe production (the legacy ``run-analysis`` options).

    python -m include.tnp run --config R.json --fileset F.json [--settings S.json] [--binning B.json]
                              [--output NAME] [--chunk-size N] [--limit N] [--force STEP]
    python -m include.tnp validate --config R.json --fileset F.json [...]

Paths are taken relative to the data root (HEP_DATA_ROOT); outputs go below
``<output root>/egamma_tnp/<output>``. Exit code 2 for a configuration or input error.
"""

from __future__ import annotations

import argparse
import json
import sys

from include.core.errors import ProductionError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m include.tnp", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "validate"):
        p = sub.add_parser(name)
        p.add_argument("--config", required=True, help="runner JSON (path or inline JSON)")
        p.add_argument("--fileset", required=True, help="fileset JSON, optionally gzipped")
        p.add_argument("--settings", help="settings JSON (default: the packaged defaults)")
        p.add_argument("--binning", help="binning JSON overriding the default binning for this run")
        p.add_argument("--limit", type=int, help="first N files per dataset (-1: all)")
        if name == "run":
            p.add_argument("--output", help="run folder below <output root>/egamma_tnp (default: from the config hash)")
            p.add_argument("--chunk-size", type=int, default=100_000, help="entries per chunk")
            p.add_argument("--force", default="none", help="re-run this step and downstream (process, merge, ...)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from include.tnp import pipeline

    try:
        if args.command == "validate":
            resolved = pipeline.validate(args.config, args.fileset, args.settings, args.binning, args.limit)
            print(json.dumps({"ok": True, "methods": resolved["methods"], "warnings": resolved["warnings"]}, indent=2))
            return 0
        result = pipeline.run_all(
            args.config,
            args.fileset,
            args.settings,
            args.binning,
            args.output,
            args.chunk_size,
            args.limit,
            args.force,
        )
    except (ProductionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"run_dir": result["run_dir"], **result["summary"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
