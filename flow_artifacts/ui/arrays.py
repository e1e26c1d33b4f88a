"""A small NumPy array shown as a table: its first rows and columns, with statistics per column.

Only `.npy` files of at most `PREVIEW_BYTES` are read, whole (so checksum-verified), and parsed
with `allow_pickle=False`: the numpy materializer never writes object arrays, and a planted one
is refused rather than unpickled. Arrays of more than two dimensions keep their one sentence.
"""

from __future__ import annotations

import io
from typing import Any

from ..artifact import Artifact
from ..errors import FlowArtifactsError
from ..materializers.preview import MAX_PREVIEW_COLUMNS, PREVIEW_ROWS, cell

NPY = "application/x-npy"


def array_table(art: Artifact, limit: int) -> dict[str, Any] | None:
    """The preview of a small 0-, 1- or 2-D array as a table, or None."""
    if art.mime_type != NPY or art.size > limit or art.manifest.directory:
        return None
    import numpy as np

    try:
        array = np.load(io.BytesIO(b"".join(art.as_stream(limit))), allow_pickle=False)
    except (FlowArtifactsError, ValueError, OSError):
        return None
    if array.ndim > 2:
        return None
    table = array.reshape(-1, 1) if array.ndim < 2 else array
    shown = table[:PREVIEW_ROWS, :MAX_PREVIEW_COLUMNS]
    columns = ["value"] if array.ndim < 2 else [str(i) for i in range(shown.shape[1])]
    return {
        "type": "table",
        "source": "npy",
        "columns": columns,
        "rows": [[cell(v) for v in row] for row in shown.tolist()],
        "schema": [{"name": c, "type": str(array.dtype)} for c in columns],
        "total_rows": table.shape[0],
        "total_columns": table.shape[1],
        "truncated": shown.shape != table.shape,
        "stats": [_stats(np, table[:, i], name) for i, name in enumerate(columns)],
        "stats_rows": table.shape[0],
        "message": f"A NumPy array of shape {' x '.join(map(str, array.shape)) or 'scalar'} "
        f"and dtype {array.dtype}.",
    }


def _stats(np: Any, column: Any, name: str) -> dict[str, Any]:
    missing = np.isnan(column) if column.dtype.kind in "fc" else np.zeros(len(column), bool)
    entry: dict[str, Any] = {"name": name, "nulls": int(missing.sum())}
    present = column[~missing]
    try:
        if present.size:
            entry["min"], entry["max"] = cell(present.min()), cell(present.max())
        entry["distinct"] = int(np.unique(present).size)
    except TypeError:  # a dtype without an order
        pass
    return entry
