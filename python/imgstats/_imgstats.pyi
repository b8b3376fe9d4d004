"""Type stubs for the native module. Users call the typed wrappers in `imgstats`; these are the
binding's own signatures (checked against the binary by
`python -m mypy.stubtest imgstats._imgstats` in `make lint`)."""

from collections.abc import Callable, Sequence
from typing import Protocol, final, type_check_only

import numpy as np
import numpy.typing as npt

# The module's exports; stubtest fails when the binary adds or drops one without this stub.
__all__ = [
    "__version__",
    "ImgstatsError",
    "InternalError",
    "_panic_for_tests",
    "ArrowBatch",
    "_scan_batch",
    "_default_threads",
    "_walk_files",
    "METRIC_NAMES",
    "OPT_IN_METRICS",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_FILE_SIZE",
    "HASH_MIN_SIDE",
    "SHARPNESS_LONG_SIDE",
    "_phash_l8",
    "_dhash_l8",
    "_ahash_l8",
    "_hashes_l8",
    "_hashes_l8_batch",
    "_resize_lanczos_l8",
    "_crop_resistant_l8",
    "_self_pairs",
    "_cross_pairs",
    "_groups",
    "_components",
    "_owner_pairs",
    "_Rule",
]

__version__: str
METRIC_NAMES: list[str]
OPT_IN_METRICS: list[str]
DEFAULT_MAX_PIXELS: int
DEFAULT_MAX_FILE_SIZE: int
HASH_MIN_SIDE: int
SHARPNESS_LONG_SIDE: int

class ImgstatsError(Exception): ...
class InternalError(ImgstatsError): ...

@final
class ArrowBatch:
    """One Arrow record batch, exported once through the PyCapsule stream interface."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def __len__(self) -> int: ...

@type_check_only
class _ArrowArrayExporter(Protocol):
    """A pyarrow Array (Arrow PyCapsule interface)."""

    def __arrow_c_array__(
        self, requested_schema: object | None = None
    ) -> tuple[object, object]: ...

@type_check_only
class _ArrowStreamExporter(Protocol):
    """A pyarrow ChunkedArray or a polars Series (Arrow PyCapsule stream interface)."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

def _default_threads() -> int: ...
def _scan_batch(
    paths: Sequence[bytes],
    blobs: Sequence[bytes] | _ArrowArrayExporter | _ArrowStreamExporter,
    *,
    metrics: Sequence[str] | None = None,
    threads: int = 1,
    max_pixels: int = ...,
    max_file_size: int = ...,
    analysis_size: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> ArrowBatch: ...
def _panic_for_tests() -> None: ...
def _walk_files(root: bytes, endings: list[str] | None) -> list[bytes]: ...
def _phash_l8(arr: npt.NDArray[np.uint8]) -> int: ...
def _dhash_l8(arr: npt.NDArray[np.uint8]) -> int: ...
def _ahash_l8(arr: npt.NDArray[np.uint8]) -> int: ...
def _hashes_l8(arr: npt.NDArray[np.uint8]) -> tuple[int, int, int]: ...
def _hashes_l8_batch(arrays: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.uint64]: ...
def _resize_lanczos_l8(
    arr: npt.NDArray[np.uint8], width: int, height: int
) -> npt.NDArray[np.uint8]: ...
def _crop_resistant_l8(
    arr: npt.NDArray[np.uint8],
) -> list[tuple[int, int, int, int, int, int]]: ...
def _self_pairs(
    hashes: npt.NDArray[np.uint64], k: int, threads: int | None = None
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint8]]: ...
def _cross_pairs(
    base: npt.NDArray[np.uint64],
    query: npt.NDArray[np.uint64],
    k: int,
    nearest_only: bool = False,
    threads: int | None = None,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint8]]: ...
def _groups(
    hashes: npt.NDArray[np.uint64], k: int, threads: int | None = None
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]: ...
def _components(
    n: int, a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]: ...
def _owner_pairs(
    hashes: npt.NDArray[np.uint64],
    owners: npt.NDArray[np.uint32],
    k: int,
    threads: int | None = None,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint8]]: ...

@final
class _Rule:
    def __new__(
        cls,
        primary: npt.NDArray[np.uint64],
        alone: int | None,
        wide: int,
        confirms: list[npt.NDArray[np.uint64]],
        radii: list[int],
        simple: npt.NDArray[np.bool_] | None = None,
        *,
        simple_both: bool = False,
        color_codes: npt.NDArray[np.uint64] | None = None,
        color_known: npt.NDArray[np.bool_] | None = None,
        contrast: npt.NDArray[np.float64] | None = None,
        color_radius: int = 0,
        copy_radius: int = 0,
        neutral: int = 0,
        gray_ratio: float = 1.5,
        alone_needs_color: bool = True,
    ) -> _Rule: ...
    def forest(
        self, threads: int | None = None
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]: ...
    def links(
        self, x: npt.NDArray[np.int64], y: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]: ...
    def __len__(self) -> int: ...
