"""``ImageFileDataset``: an image file's encoded bytes, so nodes see its size and can decode it."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractDataset, DatasetError, get_filepath_str, get_protocol_and_path


class ImageFileDataset(AbstractDataset[bytes, bytes]):
    """Load (and save) a file's raw bytes; decoding is left to the node that validates them.

    Used as the ``dataset`` of the ``raw_images`` ``PartitionedDataset``: a broken or
    truncated PNG then reaches the data tests as bytes instead of failing inside the loader.
    """

    def __init__(self, *, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._fs = fsspec.filesystem(protocol)
        self.metadata = metadata

    def load(self) -> bytes:
        with self._fs.open(get_filepath_str(self._filepath, self._protocol), "rb") as handle:
            return handle.read()

    def save(self, data: bytes) -> None:
        raise DatasetError(f"{self._filepath}: raw images are read-only (raw data is immutable).")

    def _exists(self) -> bool:
        return self._fs.exists(get_filepath_str(self._filepath, self._protocol))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "protocol": self._protocol}
