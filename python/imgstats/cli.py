"""The `imgstats` command: one sub-command per module in `imgstats.commands`."""

from __future__ import annotations

import argparse
import sys

from imgstats._imgstats import __version__
from imgstats.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    """The parser of every sub-command; each sets ``func``, the function that runs it."""
    parser = argparse.ArgumentParser(
        prog="imgstats",
        description="Audit image datasets: statistics, near-duplicates, leakage, coverage.",
    )
    parser.add_argument("--version", action="version", version=f"imgstats {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (default: ``sys.argv[1:]``) and return the exit code."""
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
