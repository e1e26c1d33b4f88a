"""polars DataFrames as Parquet: a flow-artifacts plugin, found through its entry point.

Importing this module does not import polars: the type is registered by its dotted name, and polars
is imported only when a frame is saved or loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flow_artifacts import ArtifactKind, Materializer, hookimpl
from flow_artifacts.materializers.preview import (
    MAX_PREVIEW_COLUMNS,
    PREVIEW_ROWS,
    columns_and_schema,
    table_preview,
)


class PolarsParquetMaterializer(Materializer):
    id = "polars.parquet"
    handles = ("polars.DataFrame",)
    extension = ".parquet"
    mime_type = "application/vnd.apache.parquet"
    kind = ArtifactKind.DATASET

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        with fs.open(path, "wb") as f:
            obj.write_parquet(f)
        shown = obj.head(PREVIEW_ROWS).select(obj.columns[:MAX_PREVIEW_COLUMNS])
        # Bounded however wide or long the cells: dates become ISO text, long text and nested
        # values are cut with a marker, so the manifest stays small and plain JSON.
        preview = table_preview(shown.columns, shown.rows())
        if obj.width > MAX_PREVIEW_COLUMNS:
            preview["truncated"] = True
        return {
            "rows": obj.height,
            **columns_and_schema(obj.columns, list(obj.schema.items())),
            "preview": preview,
        }

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        import polars as pl

        with fs.open(path, "rb") as f:
            return pl.read_parquet(f)

    def library_versions(self) -> dict[str, str]:
        import polars as pl

        return {"polars": pl.__version__}


@hookimpl
def register_materializers(register: Callable[[type[Materializer]], None]) -> None:
    register(PolarsParquetMaterializer)
