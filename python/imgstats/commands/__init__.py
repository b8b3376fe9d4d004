"""Sub-commands of the `imgstats` CLI, one module per sub-command (named after it).

Each module exposes ``add_parsers(subparsers)``, which adds its parser(s) and sets ``func`` to
the function that runs the command and returns the exit code. A new command is a new module here
plus one entry in `COMMANDS`, in the order ``imgstats --help`` lists them.
"""

from __future__ import annotations

from imgstats.commands import check, drift, dups, leakage, report, scan, slices, split

COMMANDS = (scan, check, dups, leakage, split, drift, slices, report)

__all__ = ["COMMANDS"]
