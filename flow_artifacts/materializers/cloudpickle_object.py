"""The fallback for objects no other materializer takes (models, mostly): cloudpickle.

Loading a pickle runs code from its bytes, so the store verifies the checksum before `load`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl
from .base import ArtifactKind, Materializer

PROTOCOL = 5


class CloudpickleMaterializer(Materializer):
    reads_whole_file = True
    id = "cloudpickle"
    handles = ("builtins.object",)
    extension = ".pkl"
    mime_type = "application/x-python-pickle"
    kind = ArtifactKind.MODEL
    fallback = True
    uses_pickle = True

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        import cloudpickle

        with fs.open(path, "wb") as f:
            cloudpickle.dump(obj, f, protocol=PROTOCOL)
        return {"python_type": f"{type(obj).__module__}.{type(obj).__qualname__}"}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        import cloudpickle

        with fs.open(path, "rb") as f:
            return cloudpickle.load(f)

    def library_versions(self) -> dict[str, str]:
        import cloudpickle

        return {"cloudpickle": cloudpickle.__version__}


@hookimpl
def register_materializers(register: Callable[[type[Materializer]], None]) -> None:
    register(CloudpickleMaterializer)
