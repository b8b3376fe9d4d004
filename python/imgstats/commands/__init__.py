"""Sub-commands of the `imgstats` CLI; each module exposes `add_parsers(subparsers)`."""
