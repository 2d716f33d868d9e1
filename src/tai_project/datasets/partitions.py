"""A partitioned folder that may not exist yet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kedro_datasets.partitions import PartitionedDataset


class OptionalPartitionedDataset(PartitionedDataset):
    """``PartitionedDataset`` whose load returns ``{}`` when the folder holds no partition
    (or does not exist) instead of raising: the production batches of a project that
    monitors the held-out slice of its own data, before any batch folder was written. The
    node that reads it says which batch is missing and how to add one."""

    def load(self) -> dict[str, Callable[[], Any]]:
        if not self._list_partitions():
            return {}
        return super().load()
