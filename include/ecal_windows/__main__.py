"""Terminal entry point of the production.

    python -m include.ecal_windows run [--param key=value ...]     whole dataset, in this process
    python -m include.ecal_windows generate TARGET [--files N --events N --seed N --flavour 11|22]

Parameters are those of the DAG (JSON values: ``--param overlap=true --param maxnocalow=4``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from include.core.errors import ProductionError


def _parse(pairs: list[str]) -> dict[str, Any]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--param {pair!r}: expected key=value")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def run(params: dict[str, Any]) -> dict[str, Any]:
    """List inputs, run every group, finalize and summarize (the DAG's chain, in this process)."""
    from include.ecal_windows import pipeline

    listing = pipeline.list_inputs(params)
    results = [pipeline.run_group(params, g["job"], g["files"]) for g in listing["groups"]]
    final = pipeline.finalize_dataset(params)
    summary = pipeline.summarize_dataset(params, [g["job"] for g in listing["groups"]])
    return {
        "groups": pipeline.group_results_table(results),
        "bad_inputs": listing["bad"],
        "files": final["files"],
        "windows": summary["windows"],
        "folder": final["folder"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.ecal_windows", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="build a whole dataset")
    run_p.add_argument("--param", action="append", default=[], help="key=value (JSON value)")
    gen_p = sub.add_parser("generate", help="write generated dumper files")
    gen_p.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "generate":
        from include.ecal_windows.generator import main as generate_main

        return generate_main(args.rest)
    try:
        print(json.dumps(run(_parse(args.param)), indent=2))
    except ProductionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
