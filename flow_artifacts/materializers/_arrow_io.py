"""Reading Parquet through whichever path is fastest and tidy for the filesystem at hand."""

from __future__ import annotations

from typing import Any


def read_parquet_table(fs: Any, path: str) -> Any:
    """A pyarrow Table from `path` on `fs`.

    Local files go through pyarrow's own memory-mapped reader. Remote files are opened (and closed)
    here with read-ahead: left to the garbage collector, gcsfs's prefetch tasks die noisily.
    """
    import pyarrow.parquet as pq
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        return pq.read_table(path, filesystem=fs)
    with fs.open(path, "rb", cache_type="readahead") as f:
        return pq.read_table(f)
