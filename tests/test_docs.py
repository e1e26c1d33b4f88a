"""The code in the README and docs runs, in order, as a reader would paste it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(python|yaml)\n(.*?)^```", re.S | re.M)
FILE = re.compile(r"# file: (\S+)")
"""A YAML block whose first line names a file is written to that file, as a reader would."""
NEEDS = {"distributed.md": ("engine_environment", "dask_client", "ray_instance")}
"""The servers and engines a document's blocks run against (see tests/engine_fixtures.py)."""


def blocks(path: Path) -> list[tuple[str, str]]:
    """(language, text) of the Python blocks and the YAML blocks that name a file, in order."""
    found = FENCE.findall(path.read_text())
    return [(lang, text) for lang, text in found if lang == "python" or FILE.match(text)]


def python_blocks(path: Path) -> list[str]:
    """The Python blocks alone, for tests that run one of them by itself."""
    return [text for lang, text in blocks(path) if lang == "python"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_code_blocks_run(document: Path, tmp_path, monkeypatch, request):
    for fixture in NEEDS.get(document.name, ()):
        request.getfixturevalue(fixture)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"doc_{document.stem}"}  # one session per document
    for number, (language, text) in enumerate(blocks(document), 1):
        if language == "yaml":
            (tmp_path / FILE.match(text).group(1)).write_text(text)
            continue
        exec(compile(text, f"{document.name} block {number}", "exec"), namespace)


def test_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    assert text.index("make demo") < text.index("##")
