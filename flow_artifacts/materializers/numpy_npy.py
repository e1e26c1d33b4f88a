"""numpy arrays as `.npy`, never with pickle: object arrays go to the pickle fallback instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl
from .base import ArtifactKind, Materializer


class NumpyNpyMaterializer(Materializer):
    reads_whole_file = True
    id = "numpy.npy"
    handles = ("numpy.ndarray",)
    extension = ".npy"
    mime_type = "application/x-npy"
    kind = ArtifactKind.DATASET

    def accepts(self, obj: Any) -> bool:
        return not obj.dtype.hasobject

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        import numpy as np

        with fs.open(path, "wb") as f:
            np.save(f, obj, allow_pickle=False)
        return {"shape": list(obj.shape), "dtype": str(obj.dtype)}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        import numpy as np

        with fs.open(path, "rb") as f:
            return np.load(f, allow_pickle=False)

    def library_versions(self) -> dict[str, str]:
        import numpy as np

        return {"numpy": np.__version__}


@hookimpl
def register_materializers(register: Callable[[type[Materializer]], None]) -> None:
    register(NumpyNpyMaterializer)
