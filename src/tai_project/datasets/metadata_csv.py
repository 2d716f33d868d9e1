"""``MetadataCSVDataset``: an image-metadata CSV (pandas) that says which file it came from."""

from __future__ import annotations

import pandas as pd
from kedro.io.core import DatasetError
from kedro_datasets.pandas import CSVDataset


class MetadataCSVDataset(CSVDataset):
    """``pandas.CSVDataset`` for metadata.csv files. The table's ``attrs["source"]`` is the
    file's path, so the nodes' messages can name it; an empty file (no header line) loads as
    an empty table, for the first node to refuse with that name, instead of pandas' bare
    ``No columns to parse from file``."""

    def load(self) -> pd.DataFrame:
        try:
            table = super().load()
        except DatasetError as error:
            if not isinstance(error.__cause__, pd.errors.EmptyDataError):
                raise
            table = pd.DataFrame()
        table.attrs["source"] = str(self._filepath)
        return table
