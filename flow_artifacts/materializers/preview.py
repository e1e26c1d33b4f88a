"""Small JSON-able previews of tabular data, kept in the manifest for browsing without loading.

Whatever the data, what a materializer records stays small: the manifest and the catalog row
hold it for every version. A preview keeps the first rows of the first columns with long text cut
to `MAX_CELL_CHARS` and nested values cut to `MAX_ITEMS` items and `MAX_NESTING` levels; column
lists and schemas are cut to fit too. Every cut is marked: a cut cell ends in `TRUNCATED` and
says how long it was, and a cut preview or schema says so (`truncated`, `column_count`).

Column statistics (nulls, min, max, distinct values) are computed while writing, over at most
`STATS_ROWS` rows (`stats_rows` says how many) of the first `MAX_PREVIEW_COLUMNS` columns, and
kept within `STATS_BYTES`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from itertools import islice
from typing import Any

from ..limits import storable_text

PREVIEW_ROWS = 50
"""Rows kept for the page to page through (fewer when they would pass `PREVIEW_BYTES`)."""
PREVIEW_BYTES = 32 << 10
"""Of `base.MAX_METADATA_BYTES`, the preview rows may take this much, the column names and schema
the next `SCHEMA_BYTES`, the column statistics `STATS_BYTES`."""
SCHEMA_BYTES = 24 << 10
STATS_BYTES = 6 << 10
STATS_ROWS = 10_000
"""Statistics are a glance, not a profile: over 1,000,000 rows of ten columns, distinct counts
alone cost four times the Parquet write (issue 18 holds saves to 1.03x of raw pyarrow); over
10,000 rows they cost a few milliseconds."""
STATS_CELL_CHARS = 40
MAX_PREVIEW_COLUMNS = 50
MAX_SCHEMA_ENTRIES = 2_000
MAX_CELL_CHARS = 200
MAX_ITEMS = 20
MAX_NESTING = 4
TRUNCATED = "…"
_EXACT_INT = 1 << 53  # larger integers lose digits in JavaScript, and may be any length here


def cell(value: Any, depth: int = 0) -> Any:
    """`value` as bounded JSON: long strings and collections cut, each cut marked."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_EXACT_INT <= value <= _EXACT_INT else text(str(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return text(value)
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing values
        return None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:
        return cell(value.item(), depth)  # a NumPy scalar
    if isinstance(value, dict) or (hasattr(value, "items") and hasattr(value, "keys")):
        if depth >= MAX_NESTING:
            return f"{TRUNCATED} [{len(value)} keys]"
        out = {text(str(k)): cell(v, depth + 1) for k, v in islice(value.items(), MAX_ITEMS)}
        if len(value) > MAX_ITEMS:
            out[TRUNCATED] = f"[{len(value)} keys]"
        return out
    if isinstance(value, (list, tuple, set, frozenset)) or hasattr(value, "__array__"):
        values = list(value) if not hasattr(value, "tolist") else value.tolist()
        if depth >= MAX_NESTING:
            return f"{TRUNCATED} [{len(values)} items]"
        out_list = [cell(v, depth + 1) for v in values[:MAX_ITEMS]]
        if len(values) > MAX_ITEMS:
            out_list.append(f"{TRUNCATED} [{len(values)} items]")
        return out_list
    return text(str(value))


def text(value: str, limit: int = MAX_CELL_CHARS) -> str:
    """`value`, or its first `limit` characters marked with how long it was; a NUL or unpaired
    surrogate, which no catalog stores alike, is shown as U+FFFD (the data keeps it)."""
    value = storable_text(value)
    if len(value) <= limit:
        return value
    return f"{value[:limit]}{TRUNCATED} [{len(value)} chars]"


def table_preview(columns: Sequence[Any], rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """{"columns", "data"} of the first columns and rows, within `PREVIEW_BYTES`; with
    `"truncated": True` when columns or rows were left out to fit."""
    names = [text(str(c)) for c in columns[:MAX_PREVIEW_COLUMNS]]
    truncated = len(columns) > len(names)
    data: list[list[Any]] = []
    used = len(json.dumps(names, ensure_ascii=False))
    for row in rows:
        bounded = [cell(v) for v in list(row)[: len(names)]]
        used += len(json.dumps(bounded, ensure_ascii=False)) + 1
        if used > PREVIEW_BYTES:
            truncated = True
            break
        data.append(bounded)
    preview: dict[str, Any] = {"columns": names, "data": data}
    if truncated:
        preview["truncated"] = True
    return preview


def frame_preview(frame: Any, rows: int = PREVIEW_ROWS) -> dict[str, Any]:
    """The first rows of a pandas DataFrame, bounded (see `table_preview`)."""
    head = frame.head(rows).iloc[:, :MAX_PREVIEW_COLUMNS]
    preview = table_preview(list(head.columns), head.itertuples(index=False, name=None))
    if frame.shape[1] > MAX_PREVIEW_COLUMNS:
        preview["truncated"] = True
    return preview


def arrow_preview(table: Any, rows: int = PREVIEW_ROWS) -> dict[str, Any]:
    """The first rows of a pyarrow Table, bounded; only the shown cells are converted."""
    shown = table.slice(0, rows).select(list(range(min(table.num_columns, MAX_PREVIEW_COLUMNS))))
    preview = table_preview(shown.column_names, (r.values() for r in shown.to_pylist()))
    if table.num_columns > MAX_PREVIEW_COLUMNS:
        preview["truncated"] = True
    return preview


def columns_and_schema(names: Sequence[Any], fields: Sequence[tuple[Any, Any]]) -> dict[str, Any]:
    """`columns` (names) and `schema` (name and type per field), each cut to the first entries
    that fit in half of `SCHEMA_BYTES`, and `column_count`: how many columns there are in all."""
    return {
        "columns": _fitting([text(str(n)) for n in names[:MAX_SCHEMA_ENTRIES]]),
        "schema": _fitting(
            [{"name": text(str(n)), "type": text(str(k))} for n, k in fields[:MAX_SCHEMA_ENTRIES]]
        ),
        "column_count": len(names),
    }


def arrow_stats(table: Any) -> dict[str, Any]:
    """`stats`: per column its `nulls`, and where the type allows, `min`, `max` and `distinct`
    (non-null values), over the first `STATS_ROWS` rows (`stats_rows`) of a pyarrow Table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    counted = table.slice(0, STATS_ROWS) if table.num_rows > STATS_ROWS else table
    entries = []
    shown = counted.column_names[:MAX_PREVIEW_COLUMNS]
    for name, column in zip(shown, counted.columns[: len(shown)], strict=True):
        entry: dict[str, Any] = {"name": text(str(name)), "nulls": column.null_count}
        if _comparable(pa, column.type):
            try:
                low, high = pc.min_max(column).values()
                entry["min"] = _stat(low.as_py())
                entry["max"] = _stat(high.as_py())
                entry["distinct"] = pc.count_distinct(column).as_py()
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
                pass  # a type this pyarrow cannot order or hash: nulls only
        entries.append(entry)
    return {"stats": _fitting(entries, STATS_BYTES), "stats_rows": counted.num_rows}


def _comparable(pa: Any, kind: Any) -> bool:
    types = pa.types
    return bool(
        types.is_integer(kind)
        or types.is_floating(kind)
        or types.is_decimal(kind)
        or types.is_temporal(kind)
        or types.is_boolean(kind)
        or types.is_string(kind)
        or types.is_large_string(kind)
    )


def _stat(value: Any) -> Any:
    return text(value, STATS_CELL_CHARS) if isinstance(value, str) else cell(value)


def arrow_fields(schema: Any) -> list[tuple[str, Any]]:
    return [(f.name, f.type) for f in schema]


def _fitting(entries: list[Any], budget: int = SCHEMA_BYTES // 2) -> list[Any]:
    used = 0
    for n, entry in enumerate(entries):
        used += len(json.dumps(entry, ensure_ascii=False, default=str)) + 2
        if used > budget:
            return entries[:n]
    return entries
