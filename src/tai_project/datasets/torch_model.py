"""``TorchModelDataset``: a ``SmallCNN`` saved as config + weights, loaded with ``weights_only``."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractVersionedDataset, Version, get_filepath_str, get_protocol_and_path

from tai_project.models.network import SmallCNN, load_checkpoint, save_checkpoint


class TorchModelDataset(AbstractVersionedDataset[SmallCNN, SmallCNN]):
    """Saves a network's config and state dict; loading never unpickles arbitrary objects."""

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

    def load(self) -> SmallCNN:
        path = get_filepath_str(self._get_load_path(), self._protocol)
        with tempfile.TemporaryDirectory() as tmp:
            local = str(Path(tmp) / "network.pt")
            self._fs.get(path, local)
            return load_checkpoint(local)

    def save(self, data: SmallCNN) -> None:
        path = get_filepath_str(self._get_save_path(), self._protocol)
        self._fs.mkdirs(str(PurePosixPath(path).parent), exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            local = str(Path(tmp) / "network.pt")
            save_checkpoint(data, local)
            self._fs.put(local, path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def _exists(self) -> bool:
        return self._fs.exists(get_filepath_str(self._get_load_path(), self._protocol))
