"""Small local files (manifests, journal records, write records) appear whole, never replace a
file, and leave nothing behind, with unnamed files where the system has them and with a named
temporary where it does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import flow_artifacts as fa
from flow_artifacts.maintenance import gc
from flow_artifacts.materializers.base import Materializer
from flow_artifacts.stores import unnamed
from flow_artifacts.stores.paths import RESERVED
from flow_artifacts.stores.unnamed import create_whole

from .core_plugins import RegisterPlugin, host_with


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_a_file_is_created_whole_and_never_over_another(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    if not create_whole(str(target), b'{"a": 1}'):
        pytest.skip("no unnamed files on this system: the named temporary is tested below")
    assert target.read_bytes() == b'{"a": 1}'
    with pytest.raises(FileExistsError):
        create_whole(str(target), b'{"a": 2}')
    assert target.read_bytes() == b'{"a": 1}'
    with pytest.raises(FileNotFoundError):
        create_whole(str(tmp_path / "missing" / "b.json"), b"{}")
    assert files_under(tmp_path) == {"a.json"}


@pytest.fixture(params=["unnamed", "named temporary"])
def unnamed_or_not(request, monkeypatch) -> str:
    if request.param == "named temporary":  # as where the system has no unnamed files
        monkeypatch.setattr(unnamed, "_proc", -1)
    return str(request.param)


def test_writes_leave_only_their_files_either_way(tmp_path: Path, unnamed_or_not: str) -> None:
    stack = fa.Stack.local(tmp_path / "fa")
    first = fa.materialize({"v": 1}, "report", "r1", "s", "demo", stack=stack)
    fa.tag(first, "best", stack=stack)  # a journal record
    batch = fa.materialize_many({"a": [1], "b": [2]}, "r1", "s", "demo", stack=stack)
    with pytest.raises(fa.ArtifactExists):  # the bare store refuses a taken key
        stack.store.save({"v": 2}, "demo/r1/s/report")

    assert fa.load("store://demo/report:best", stack=stack) == {"v": 1}
    assert {n: fa.load(a, stack=stack) for n, a in batch.items()} == {"a": [1], "b": [2]}
    store = Path(stack.store.root)
    left = {f for f in files_under(store) if f.startswith(RESERVED)}
    assert not {f for f in left if f.startswith((f"{RESERVED}/tmp", f"{RESERVED}/writes"))}
    assert gc(stack=stack).paths == []
    stack.close()


class ReadingBack(Materializer):
    """Writes its file, then reads it back and records its size: the file must be where it
    wrote it, although a small local file is otherwise created straight at its final path."""

    id = "tests.reading-back"
    handles = ()
    extension = ".bin"

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        with fs.open(path, "wb") as f:
            f.write(obj)
        return {"read_back": len(fs.cat_file(path))}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        return fs.cat_file(path)


def test_a_materializer_finds_the_file_it_wrote(tmp_path: Path, unnamed_or_not: str) -> None:
    plugins = host_with(reading_back=RegisterPlugin(ReadingBack))
    stack = fa.Stack(
        store=fa.ArtifactStore(tmp_path / "fa", plugins=plugins),
        catalog=fa.Catalog(f"sqlite:///{tmp_path / 'catalog.db'}"),
        plugins=plugins,
    )
    art = fa.materialize(b"12345", "blob", "r1", "s", "demo", materializer=ReadingBack.id,
                         stack=stack)  # fmt: skip
    assert art.manifest.metadata == {"read_back": 5}
    assert fa.load(art, stack=stack) == b"12345"
    assert not [f for f in files_under(tmp_path / "fa") if f.startswith(f"{RESERVED}/tmp")]
    stack.close()


def test_a_small_file_never_replaces_one_at_its_path(tmp_path: Path, unnamed_or_not: str) -> None:
    """Bytes someone left at the data path (no manifest) are refused, kept, and nothing of the
    refused write is left behind."""
    store = fa.ArtifactStore(tmp_path / "fa")
    squatter = tmp_path / "fa" / "demo" / "r1" / "s" / "report.json"
    squatter.parent.mkdir(parents=True)
    squatter.write_bytes(b"not yours")
    with pytest.raises(fa.ArtifactExists):
        store.save({"v": 1}, "demo/r1/s/report")
    assert squatter.read_bytes() == b"not yours"
    left = files_under(tmp_path / "fa")
    assert not [f for f in left if f.startswith((f"{RESERVED}/tmp", f"{RESERVED}/writes"))]
    assert "demo/r1/s/report.json" in left


class WritingTwice(Materializer):
    """Writes a placeholder, then its file: a second write of its path (or a touch before the
    write) must leave only the last bytes, at the data path, and nothing in the temporaries."""

    id = "tests.writing-twice"
    handles = ()
    extension = ".bin"
    touch_first = False

    def save(self, obj: Any, fs: Any, path: str) -> dict[str, Any]:
        if self.touch_first:
            fs.touch(path)
        else:
            with fs.open(path, "wb") as f:
                f.write(b"placeholder")
        with fs.open(path, "wb") as f:
            f.write(obj)
        return {}

    def load(self, fs: Any, path: str, metadata: dict[str, Any]) -> Any:
        return fs.cat_file(path)


class TouchingFirst(WritingTwice):
    id = "tests.touching-first"
    touch_first = True


@pytest.mark.parametrize("kind", [WritingTwice, TouchingFirst])
def test_a_file_written_twice_leaves_no_temporary(
    tmp_path: Path, unnamed_or_not: str, kind: type[WritingTwice]
) -> None:
    plugins = host_with(writing_twice=RegisterPlugin(kind))
    stack = fa.Stack(
        store=fa.ArtifactStore(tmp_path / "fa", plugins=plugins),
        catalog=fa.Catalog(f"sqlite:///{tmp_path / 'catalog.db'}"),
        plugins=plugins,
    )
    art = fa.materialize(b"12345", "blob", "r1", "s", "demo", materializer=kind.id, stack=stack)
    assert fa.load(art, stack=stack) == b"12345"
    assert not [f for f in files_under(tmp_path / "fa") if f.startswith(f"{RESERVED}/tmp")]
    stack.close()
