"""pyarrow Tables as Parquet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl
from ._arrow_io import PARQUET_OPTIONS, read_parquet_table, write_parquet_table
from .base import ArtifactKind, Materializer
from .preview import arrow_fields, arrow_preview, columns_and_schema


class ArrowParquetMaterializer(Materializer):
    options = PARQUET_OPTIONS
    id = "pyarrow.parquet"
    handles = ("pyarrow.Table",)
    extension = ".parquet"
    mime_type = "application/vnd.apache.parquet"
    kind = ArtifactKind.DATASET

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        names = obj.column_names
        if len(set(names)) < len(names):  # Parquet keeps them, but no reader gives them back
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"duplicate column names {twice}: rename them so each is unique")
        written = write_parquet_table(obj, fs, path, self.settings)
        return {
            "rows": obj.num_rows,
            "compression": written.pop("compression"),
            **columns_and_schema(obj.column_names, arrow_fields(obj.schema)),
            # Timestamps, dates, decimals and binary become strings: the manifest is JSON.
            "preview": arrow_preview(obj),
            **written,
        }

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        return read_parquet_table(fs, path)

    def library_versions(self) -> dict[str, str]:
        import pyarrow as pa

        return {"pyarrow": pa.__version__}


@hookimpl
def register_materializers(register: Callable[[type[Materializer]], None]) -> None:
    register(ArrowParquetMaterializer)
