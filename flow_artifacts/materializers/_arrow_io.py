"""Reading Parquet through whichever path is fastest and tidy for the filesystem at hand."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from .preview import arrow_stats

COMPRESSIONS = ("snappy", "lz4", "zstd", "none")
"""Parquet codecs a write may ask for (`materializer_options={"compression": ...}`)."""
DEFAULT_COMPRESSION = "lz4"
"""Chosen by measurement (docs/user-guide.md, "Large tables and models")."""
PARQUET_OPTIONS = {"compression": COMPRESSIONS}
STATS_BESIDE = 8 << 20
"""Tables of at least this many bytes have their stats computed while they are written."""
DICTIONARY_SAMPLE = 8192
"""Rows, spread evenly over a table, whose distinct values decide each column's encoding."""
WRITTEN_WHOLE = 64 << 20
"""Tables up to this many bytes are encoded into memory and handed to the store in one write."""
NEARLY_DISTINCT = 0.99
"""A sample this distinct means hundreds of thousands of distinct values or more in the column
(a few collisions among 8,192 draws): past what a 1 MiB dictionary holds for most types, and
where a plain column is smaller anyway."""


def write_parquet_table(
    table: Any, fs: Any, path: str, settings: Mapping[str, Any]
) -> dict[str, Any]:
    """Write `table` at `path` with the compression `settings` ask for; returns the metadata
    both Parquet materializers record: that codec and the table's `arrow_stats`.

    pyarrow writes Parquet on one core, so for a table past `STATS_BESIDE` bytes the stats are
    computed in a second thread meanwhile (both release the GIL); a smaller one is not worth a
    thread. A table up to `WRITTEN_WHOLE` bytes is encoded into memory first: pyarrow hands a
    Python file each page separately (a copy into a new bytes object, a call holding the GIL,
    a copy into the store's gathered chunk and a hash in the writing thread, about 200 writes for
    a 1,000,000-row two-column frame), whereas one large write is hashed in a second thread
    while it goes to the store (that frame: 33.6 ms of CPU against 36.1). A larger table streams,
    so memory stays bounded.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    compression = settings.get("compression", DEFAULT_COMPRESSION)
    with contextlib.ExitStack() as resources:
        beside = None
        if table.nbytes >= STATS_BESIDE:
            from concurrent.futures import ThreadPoolExecutor

            pool = resources.enter_context(ThreadPoolExecutor(1, "flow-artifacts-stats"))
            beside = pool.submit(arrow_stats, table)
        options = {"compression": compression, "use_dictionary": dictionary_columns(table)}
        with fs.open(path, "wb") as f:
            if table.nbytes <= WRITTEN_WHOLE:
                encoded = pa.BufferOutputStream()
                pq.write_table(table, encoded, **options)
                f.write(encoded.getvalue())
            else:
                pq.write_table(table, f, **options)
        stats = beside.result() if beside is not None else arrow_stats(table)
    return {"compression": str(compression), **stats}


def dictionary_columns(table: Any) -> bool | list[str]:
    """The columns to write dictionary-encoded (pyarrow's `use_dictionary`).

    pyarrow tries a dictionary for every column, and falls back to plain values only once a
    column chunk's dictionary passes 1 MiB: for a column of (nearly) distinct values the attempt
    costs more than the plain write it ends in, and the file is larger (1,000,000 distinct ints:
    40 ms and 4.28 MB against 19 ms and 4.01 MB; 1,000,000 distinct strings: 109 ms against 54).
    So a flat column of values whose sample, taken every n-th row so that repeats spread over
    the table show, is `NEARLY_DISTINCT` is written plain; every other column keeps its
    dictionary. A table with a nested column keeps pyarrow's default: its leaves are named by
    Parquet paths, not by column names. Only the encoding differs: any reader reads both.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    types = pa.types
    if table.num_rows == 0 or any(types.is_nested(f.type) for f in table.schema):
        return True
    sample = table
    if table.num_rows > DICTIONARY_SAMPLE:
        step = table.num_rows // DICTIONARY_SAMPLE  # rows 0, step, 2 * step, ...
        steps = pa.repeat(pa.scalar(step, pa.int64()), DICTIONARY_SAMPLE)
        sample = table.take(pc.cumulative_sum(steps, start=-step))
    encoded = set()
    for name, column in zip(sample.column_names, sample.columns, strict=True):
        kind = column.type
        if types.is_dictionary(kind) or not (
            types.is_integer(kind)
            or types.is_floating(kind)
            or types.is_decimal(kind)
            or types.is_temporal(kind)
            or types.is_string(kind)
            or types.is_large_string(kind)
            or types.is_binary(kind)
            or types.is_large_binary(kind)
            or types.is_fixed_size_binary(kind)
        ):
            encoded.add(name)
            continue
        values = len(column) - column.null_count
        distinct = len(pc.unique(column)) - (column.null_count > 0)  # without the null
        if values == 0 or distinct < NEARLY_DISTINCT * values:
            encoded.add(name)
    return [name for name in table.column_names if name in encoded]


def read_parquet_table(fs: Any, path: str) -> Any:
    """A pyarrow Table from `path` on `fs`.

    Local files go through pyarrow's own reader: on two cores it and a second thread hashing
    the same file finish sooner than one read into memory parsed while hashed (measured with
    sha256: 143 ms against 190 ms for a 53 MB file, 132 ms unverified; again with BLAKE3, an
    81 MB file read into a DataFrame: 1.17x the unverified read against 1.26x hashed before
    parsing and 1.33x hashed while parsing, medians of 9 on a busy machine). Remote files are
    opened (and closed) here with read-ahead: left to the garbage collector, gcsfs's prefetch
    tasks die noisily.
    """
    import pyarrow.parquet as pq
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        return pq.read_table(path, filesystem=fs)
    with fs.open(path, "rb", cache_type="readahead") as f:
        return pq.read_table(f)
