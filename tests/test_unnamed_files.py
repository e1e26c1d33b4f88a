"""Small local files (manifests, journal records, write records) appear whole, never replace a
file, and leave nothing behind, with unnamed files where the system has them and with a named
temporary where it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

import flow_artifacts as fa
from flow_artifacts.maintenance import gc
from flow_artifacts.stores import unnamed
from flow_artifacts.stores.paths import RESERVED
from flow_artifacts.stores.unnamed import create_whole


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
