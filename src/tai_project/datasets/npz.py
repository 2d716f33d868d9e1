"""``NpzDataset``: a dict of numpy arrays in one ``.npz`` file, never pickled."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
from kedro.io.core import AbstractVersionedDataset, Version, get_filepath_str, get_protocol_and_path


class NpzDataset(AbstractVersionedDataset[dict[str, np.ndarray], dict[str, np.ndarray]]):
    """Saves and loads ``dict[str, np.ndarray]`` with ``np.savez`` / ``np.load(allow_pickle=False)``.

    Object arrays of strings are stored as fixed-width unicode; any other object array is
    refused on save, so loading never runs pickled code.
    """

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol)
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def load(self) -> dict[str, np.ndarray]:
        path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}

    def save(self, data: dict[str, np.ndarray]) -> None:
        path = get_filepath_str(self._get_save_path(), self._protocol)
        self._fs.mkdirs(str(PurePosixPath(path).parent), exist_ok=True)
        with self._fs.open(path, "wb") as handle:
            np.savez(handle, **{key: _plain(key, value) for key, value in data.items()})

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def _exists(self) -> bool:
        return self._fs.exists(get_filepath_str(self._get_load_path(), self._protocol))


def _plain(key: str, value: object) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype != object:
        return array
    if all(isinstance(item, str) for item in array.ravel()):
        return array.astype(str)
    raise TypeError(f"array '{key}' holds Python objects; NpzDataset stores only plain dtypes")
