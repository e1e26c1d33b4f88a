"""pandas DataFrame and Series as Parquet, through pyarrow, keeping dtypes and the index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl
from ._arrow_io import PARQUET_OPTIONS, read_parquet_table, write_parquet_table
from .base import ArtifactKind, Materializer
from .preview import arrow_fields, columns_and_schema, frame_preview

SERIES_COLUMN = "__series__"


class PandasParquetMaterializer(Materializer):
    options = PARQUET_OPTIONS
    id = "pandas.parquet"
    handles = ("pandas.DataFrame", "pandas.Series")
    extension = ".parquet"
    mime_type = "application/vnd.apache.parquet"
    kind = ArtifactKind.DATASET

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        import pandas as pd
        import pyarrow as pa

        is_series = isinstance(obj, pd.Series)
        frame = obj.to_frame(name=SERIES_COLUMN) if is_series else obj
        try:
            table = pa.Table.from_pandas(frame, preserve_index=None)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise ValueError(_unconvertible(frame, exc)) from None
        written = write_parquet_table(table, fs, path, self.settings)
        metadata: dict[str, Any] = {
            "pandas_type": "Series" if is_series else "DataFrame",
            "compression": written.pop("compression"),
            "rows": len(frame),
            **columns_and_schema(list(frame.columns), arrow_fields(table.schema)),
            "preview": frame_preview(frame),
            **written,
        }
        if is_series:
            metadata["series_name"] = obj.name if isinstance(obj.name, (str, int)) else None
        return metadata

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        frame = read_parquet_table(fs, path).to_pandas()
        if metadata.get("pandas_type") == "Series":
            return frame[SERIES_COLUMN].rename(metadata.get("series_name"))
        return frame

    def library_versions(self) -> dict[str, str]:
        import pandas as pd
        import pyarrow as pa

        return {"pandas": pd.__version__, "pyarrow": pa.__version__}


@hookimpl
def register_materializers(register: Callable[[type[Materializer]], None]) -> None:
    register(PandasParquetMaterializer)


def _unconvertible(frame: Any, exc: Exception) -> str:
    """Which columns Parquet cannot hold, and how to fix them: an object column of mixed types
    is the usual cause (pyarrow alone says only "Conversion failed for column a")."""
    mixed = []
    for column in frame.columns:
        if frame[column].dtype == object:
            kinds = sorted({type(v).__name__ for v in frame[column].dropna()})
            if len(kinds) > 1:
                mixed.append(f"{column!r} ({', '.join(kinds[:4])})")
    what = (
        f"column(s) {', '.join(mixed[:5])} mix value types"
        if mixed
        else f"a column cannot be converted ({str(exc)[:200]})"
    )
    return (
        f"this DataFrame cannot be stored as Parquet: {what}. Convert each such column to one "
        "type (e.g. df[col] = df[col].astype(str)), or save it with materializer='cloudpickle'"
    )
