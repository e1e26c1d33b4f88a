"""Raw bytes stored as they are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl
from .base import ArtifactKind, Materializer


class BytesMaterializer(Materializer):
    reads_whole_file = True
    id = "builtins.bytes"
    handles = ("builtins.bytes", "builtins.bytearray", "builtins.memoryview")
    extension = ".bin"
    kind = ArtifactKind.FILE

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        with fs.open(path, "wb") as f:
            f.write(obj)
        return {"python_type": type(obj).__name__}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        data = fs.cat_file(path)
        return bytearray(data) if metadata.get("python_type") == "bytearray" else data


@hookimpl
def register_materializers(register: Callable[[type[Materializer]], None]) -> None:
    register(BytesMaterializer)
