"""A stack read from a file travels to workers as that file and the name that chose it: a worker
opens the stack its driver opened, even after the file's `active:` stack changed in between."""

from __future__ import annotations

from pathlib import Path

import pytest

import flow_artifacts as fa

TWO_STACKS = """
active: {active}
stacks:
  first:
    artifact_store: {{url: {root}/first}}
    catalog: {{url: "sqlite:///{root}/first.db"}}
  second:
    artifact_store: {{url: {root}/second}}
    catalog: {{url: "sqlite:///{root}/second.db"}}
"""


def test_a_worker_opens_the_stack_the_driver_chose_though_active_changed(tmp_path: Path) -> None:
    path = tmp_path / "stacks.yaml"
    path.write_text(TWO_STACKS.format(active="first", root=tmp_path))
    stack = fa.Stack.from_yaml(path)
    spec = fa.StackSpec.for_workers(stack)
    path.write_text(TWO_STACKS.format(active="second", root=tmp_path))
    opened = spec.open()
    try:
        assert (spec.file, spec.name) == (str(path), "first")
        assert Path(opened.store.root) == tmp_path / "first"
    finally:
        opened.close()
        stack.close()


def single_stack_file(tmp_path: Path) -> tuple[Path, fa.Stack, fa.StackSpec]:
    """A file of one stack, that stack opened, and how workers would open it."""
    path = tmp_path / "stack.yaml"
    path.write_text(
        f"artifact_store: {{url: {tmp_path}/a}}\ncatalog: {{url: 'sqlite:///{tmp_path}/c.db'}}\n"
    )
    stack = fa.Stack.from_yaml(path)
    return path, stack, fa.StackSpec.for_workers(stack)


def test_a_single_stack_file_travels_without_a_name(tmp_path: Path) -> None:
    path, stack, spec = single_stack_file(tmp_path)
    opened = spec.open()
    try:
        assert (spec.file, spec.name) == (str(path), None)
        assert opened.name == stack.name and Path(opened.store.root) == tmp_path / "a"
    finally:
        opened.close()
        stack.close()


def test_a_single_stack_file_rewritten_with_several_is_refused_not_guessed(tmp_path: Path) -> None:
    path, stack, spec = single_stack_file(tmp_path)
    path.write_text(TWO_STACKS.format(active="second", root=tmp_path))
    with pytest.raises(fa.ConfigError, match="held a single stack .* now holds several") as caught:
        spec.open()
    assert str(tmp_path) not in str(caught.value)
    stack.close()
