"""The figure materializer: PIL images (and matplotlib figures, when installed) as PNG, chosen by
type through the same hooks as every built-in, shown on the page as images, never pickled."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from PIL import Image
from starlette.testclient import TestClient

import flow_artifacts as fa
from flow_artifacts.testing import assert_round_trip
from flow_artifacts.ui.app import create_app


def pixels_equal(expected: Image.Image, loaded: Image.Image) -> None:
    assert (loaded.size, loaded.mode) == (expected.size, expected.mode)
    assert loaded.tobytes() == expected.tobytes()


def gradient(mode: str) -> Image.Image:
    image = Image.new("RGBA", (40, 30))
    image.putdata([(x * 6, y * 8, (x + y) % 256, 128 + x) for y in range(30) for x in range(40)])
    return image.convert(mode)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "1"])
def test_pil_images_round_trip_as_png(mode):
    image = gradient(mode)
    result = assert_round_trip("figure.png", image, equals=pixels_equal)
    assert result.artifact.manifest.mime_type == "image/png"
    assert result.artifact.metadata["width"] == 40 and result.artifact.metadata["mode"] == mode


def test_a_decoded_jpeg_dispatches_by_its_base_class_and_cmyk_becomes_rgb(tmp_path):
    buffer = io.BytesIO()
    gradient("RGB").save(buffer, format="JPEG")
    opened = Image.open(io.BytesIO(buffer.getvalue()))
    assert type(opened).__name__ == "JpegImageFile"
    stack = fa.Stack.local(tmp_path / "fa")
    art = fa.materialize(opened, "photo", "r1", "s", "demo", stack=stack)
    assert art.materializer == "figure.png" and art.kind == "report"
    assert art.metadata["source_format"] == "JPEG"
    assert "figure.png" in str(fa.explain(opened, stack=stack))
    cmyk = fa.materialize(gradient("RGB").convert("CMYK"), "print", "r1", "s", "demo", stack=stack)
    assert cmyk.metadata["mode"] == "RGB" and fa.load(cmyk, stack=stack).mode == "RGB"
    stack.close()


def test_the_page_shows_the_figure_as_its_preview(tmp_path):
    stack = fa.Stack.local(tmp_path / "fa")
    art = fa.materialize(gradient("RGB"), "plot", "r1", "s", "demo", stack=stack)
    with TestClient(create_app(stack), base_url="http://127.0.0.1") as client:
        shown = client.get(f"/api/preview/{art.id}").json()
        assert shown == {"type": "image", "mime": "image/png", "src": shown["src"]}
        image = client.get(shown["src"])
    assert image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (40, 30)
    stack.close()


def test_a_step_returning_a_figure_records_an_image_not_a_pickle(tmp_path):
    stack = fa.Stack.local(tmp_path / "fa")

    @fa.step(outputs="chart")
    def draw() -> Image.Image:
        return gradient("RGB")

    with fa.run(project="demo", stack=stack) as run:
        draw()
    chart = run.artifacts["chart"]
    assert chart.materializer == "figure.png" and chart.path.endswith(".png")
    stack.close()


def test_neither_library_is_imported_until_a_figure_is_made():
    code = (
        "import sys, flow_artifacts as fa, tempfile\n"
        "stack = fa.Stack.local(tempfile.mkdtemp())\n"
        "fa.materialize({'a': 1}, 'r', 'r1', 's', 'demo', stack=stack)\n"
        "assert 'figure.png' in [m.id for m in stack.plugins.materializers]\n"
        "print(sorted(m for m in ('PIL', 'matplotlib') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_matplotlib_figure_is_saved_as_png(tmp_path):
    import matplotlib.pyplot as plt  # in the test extra; imported here, as a user's step would

    figure, axes = plt.subplots(figsize=(4, 3), dpi=50)
    axes.plot([1, 3, 2])
    stack = fa.Stack.local(tmp_path / "fa")
    art = fa.materialize(figure, "chart", "r1", "s", "demo", stack=stack)
    assert art.materializer == "figure.png"
    assert (art.metadata["width"], art.metadata["height"]) == (200, 150)
    assert fa.load(art, stack=stack).size == (200, 150)
    stack.close()
