"""Shell-style brace patterns as WebDataset and Hugging Face shard names use them:
``shard-{000000..000099}.tar`` (zero-padded ranges) and ``{train,val}-0.parquet`` (lists)."""

from __future__ import annotations

import glob
import re

_BRACE = re.compile(r"\{([^{}]*)\}")


def expand_braces(pattern: str) -> list[str]:
    """Every name a brace pattern stands for, in order; glob patterns are then matched (sorted).

    >>> expand_braces("s-{08..10}.tar")
    ['s-08.tar', 's-09.tar', 's-10.tar']
    """
    names = _expand(pattern)
    out: list[str] = []
    for name in names:
        if glob.has_magic(name):
            matches = sorted(glob.glob(name))
            if not matches:
                raise FileNotFoundError(f"no file matches {name!r}")
            out.extend(matches)
        else:
            out.append(name)  # a missing shard becomes an error row, not a silent gap
    return out


def _expand(pattern: str) -> list[str]:
    m = _BRACE.search(pattern)
    if m is None:
        return [pattern]
    head, body, tail = pattern[: m.start()], m.group(1), pattern[m.end() :]
    rng = re.fullmatch(r"(-?\d+)\.\.(-?\d+)", body)
    if rng:
        lo, hi = rng.group(1), rng.group(2)
        width = len(lo) if lo.startswith("0") or hi.startswith("0") else 0
        step = 1 if int(hi) >= int(lo) else -1
        items = [f"{i:0{width}d}" for i in range(int(lo), int(hi) + step, step)]
    elif "," in body:
        items = body.split(",")
    else:
        return [head + "{" + body + "}" + t for t in _expand(tail)]  # a literal brace
    return [head + item + t for item in items for t in _expand(tail)]
