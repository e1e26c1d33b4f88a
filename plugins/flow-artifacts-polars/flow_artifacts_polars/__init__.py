"""polars DataFrames as Parquet: a flow-artifacts plugin, found through its entry point.

Importing this module does not import polars: the type is registered by its dotted name, and polars
is imported only when a frame is saved or loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flow_artifacts import ArtifactKind, Materializer, hookimpl

PREVIEW_ROWS = 5


class PolarsParquetMaterializer(Materializer):
    id = "polars.parquet"
    handles = ("polars.DataFrame",)
    extension = ".parquet"
    mime_type = "application/vnd.apache.parquet"
    kind = ArtifactKind.DATASET

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        with fs.open(path, "wb") as f:
            obj.write_parquet(f)
        head = obj.head(PREVIEW_ROWS)
        return {
            "rows": obj.height,
            "columns": obj.columns,
            "schema": [{"name": name, "type": str(dtype)} for name, dtype in obj.schema.items()],
            # Dates, decimals and nested values become strings: the manifest must stay plain JSON.
            "preview": {
                "columns": obj.columns,
                "data": json.loads(json.dumps(head.rows(), default=str)),
            },
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
