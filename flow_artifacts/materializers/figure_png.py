"""Figures as PNG: a matplotlib `Figure` or a PIL `Image`, so a plot a step returns is an image
the page shows (its own bytes are the preview), not a pickle.

The types are named, never imported: this claims nothing until matplotlib or Pillow was imported
by the code that made the object. A figure loads back as a PIL image (matplotlib needs Pillow,
so both are there whenever such a figure was made).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

from ..errors import MaterializerError
from ..hookspecs import hookimpl
from .base import ArtifactKind, Materializer

PNG_MODES = ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA")
"""Image modes PNG holds as they are; others (CMYK, YCbCr, float) are converted to RGB(A)."""


class FigurePngMaterializer(Materializer):
    id = "figure.png"
    handles = ("matplotlib.figure.Figure", "PIL.Image.Image")
    extension = ".png"
    mime_type = "image/png"
    kind = ArtifactKind.REPORT
    reads_whole_file = True

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        if hasattr(obj, "savefig"):  # a matplotlib Figure
            width, height = (round(v * obj.dpi) for v in obj.get_size_inches())
            with fs.open(path, "wb") as f:
                obj.savefig(f, format="png", dpi=obj.dpi)
            return {"python_type": "matplotlib Figure", "width": width, "height": height}
        image = obj
        if image.mode not in PNG_MODES:
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        with fs.open(path, "wb") as f:
            image.save(f, format="PNG")
        return {
            "python_type": "PIL Image",
            "width": image.width,
            "height": image.height,
            "mode": image.mode,
            "source_format": obj.format,
        }

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        try:
            from PIL import Image
        except ImportError:
            raise MaterializerError(
                "this figure loads as a PIL image; install Pillow: pip install pillow"
            ) from None
        with fs.open(path, "rb") as f:
            image = Image.open(io.BytesIO(f.read()))
            image.load()
        return image

    def library_versions(self) -> dict[str, str]:
        found = {}
        for name in ("matplotlib", "PIL"):
            module = sys.modules.get(name)
            if module is not None:
                found[name] = str(getattr(module, "__version__", "unknown"))
        return found


@hookimpl
def register_materializers(register: Callable[[type[Materializer]], None]) -> None:
    register(FigurePngMaterializer)
