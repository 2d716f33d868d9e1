"""Custom Kedro datasets (where kedro-datasets has none) and the default-data exporter."""
