"""WebDataset tar shards streamed member by member (no extraction, no seeking).

A shard holds samples as consecutive members ``key.ext`` (``000123.jpg``, ``000123.cls``, ...);
every member whose name ends in an image extension is measured and named ``shard.tar/member``.
Other members (labels, JSON) are not images and are skipped. A shard that is missing or
corrupt becomes an error row named after the shard, after the images read before the damage.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from imgstats.scan import IMAGE_EXTENSIONS

if TYPE_CHECKING:
    from imgstats.sources import Batch

_TAR_ENDINGS = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def is_tar_name(name: str) -> bool:
    return name.lower().endswith(_TAR_ENDINGS)


def is_image_member(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def tar_batches(shards: list[str], batch_size: int) -> Iterator[Batch]:
    """Batches of up to `batch_size` images across `shards`, in shard and member order."""
    from imgstats.sources import Batch

    batch = Batch(names=[])
    for shard in shards:
        try:
            # "r|*": a forward-only stream (also compressed), so memory holds one member at a time
            # and a shard on a pipe or network mount is read once, sequentially.
            with tarfile.open(shard, mode="r|*") as tar:
                for member in tar:
                    if not member.isfile() or not is_image_member(member.name):
                        continue
                    f = tar.extractfile(member)
                    data = f.read() if f is not None else b""  # may raise: a cut shard
                    batch.names.append(f"{shard}/{member.name}")
                    batch.items.append(data)
                    if len(batch.names) >= batch_size:
                        yield batch
                        batch = Batch(names=[])
        except (OSError, tarfile.TarError, EOFError) as e:
            if batch.names:
                yield batch
                batch = Batch(names=[])
            yield Batch(names=[], failures=[(shard, f"cannot read tar shard: {e}")])
    if batch.names:
        yield batch
