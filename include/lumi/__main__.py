"""Command line: process fills of the luminosity follow-up.

python -m include.lumi FILL [FILL ...] [--year 2017] [--force STEP] [--data-root D] [--output-root O]
python -m include.lumi --list [--year 2017]       # fills of the beam-mode table passing the selection
"""

from __future__ import annotations

import argparse
import json
import sys

from include.core.errors import ProductionError


def main(argv: list[str] | None = None) -> int:
    from include.lumi.form import DEFAULT_YEAR
    from include.lumi.tasks import FORCE_CHOICES, process_fill

    parser = argparse.ArgumentParser(prog="python -m include.lumi", description=__doc__.splitlines()[0])
    parser.add_argument("fills", nargs="*", type=int)
    parser.add_argument("--year", type=int, default=DEFAULT_YEAR)
    parser.add_argument("--force", default="none", choices=FORCE_CHOICES)
    parser.add_argument("--doOnly", dest="force", choices=FORCE_CHOICES, help="alias of --force")
    parser.add_argument("--data-root")
    parser.add_argument("--output-root")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="configuration override")
    parser.add_argument("--list", action="store_true", help="list the selected fills and exit")
    args = parser.parse_args(argv)
    config: dict = {"year": args.year}
    try:
        for item in args.set:
            key, _, value = item.partition("=")
            config[key] = json.loads(value)
        if args.list:
            from include.lumi.planning import selected_fills

            print(" ".join(str(f) for f in selected_fills(config, args.data_root)))
            return 0
        failed = 0
        for fill in args.fills:
            report = process_fill(fill, args.data_root, args.output_root, config, args.force)
            states = ", ".join(f"{s['step']}={s['state']}" for s in report["steps"])
            print(f"fill {fill}: {'ok' if report['ok'] else 'FAILED'} in {report['seconds']} s ({states})")
            for step in report["steps"]:
                if step["error"]:
                    print(f"  {step['step']}: {step['error']}", file=sys.stderr)
            failed += not report["ok"]
    except (ProductionError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
