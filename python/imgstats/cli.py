"""The `imgstats` command: one sub-command per module in `imgstats.commands`."""

from __future__ import annotations

import argparse
import sys

from imgstats import __version__
from imgstats.commands import drift as drift_cmd
from imgstats.commands import dups_cmd, report_cmd, scan_cmd


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgstats",
        description="Audit image datasets: statistics, near-duplicates, leakage, coverage.",
    )
    parser.add_argument("--version", action="version", version=f"imgstats {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (scan_cmd, dups_cmd, report_cmd, drift_cmd):
        module.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
