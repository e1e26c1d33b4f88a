"""Store backends: what flow_artifacts needs to know about each fsspec protocol."""
