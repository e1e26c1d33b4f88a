"""Hostile-review: a batch commit must not record rows the store cannot rebuild."""

from __future__ import annotations

import pytest

import flow_artifacts as fa
from flow_artifacts.errors import FlowArtifactsError


def test_review_materialize_many_refuses_a_step_run_of_another_step(stack):
    """The rows would say step run `a` of r1 made them, their manifests say step `b` of r2: the
    catalog then disagrees with what the store rebuilds, and the new `step` column with both."""
    sr = stack.catalog.start_step_run("demo", "r1", "a")
    with pytest.raises(FlowArtifactsError):
        fa.materialize_many({"x": b"1", "y": b"2"}, "r2", "b", "demo", step_run_id=sr, stack=stack)


def test_review_materialize_many_refuses_an_unknown_step_run(stack, tmp_path):
    """Was a raw sqlalchemy IntegrityError whose text held the SQL, the manifest and the
    store's absolute path."""
    with pytest.raises(FlowArtifactsError) as err:
        fa.materialize_many({"x": b"1"}, "r2", "b", "demo", step_run_id="0" * 32, stack=stack)
    assert str(tmp_path) not in str(err.value)
    assert list(fa.list_artifacts("demo", stack=stack)) == []


@pytest.mark.parametrize("objects", [[("x", b"1")], b"payload", None])
def test_review_materialize_many_non_mapping_is_clear_error(stack, objects):
    with pytest.raises(FlowArtifactsError):
        fa.materialize_many(objects, "r1", "s", "demo", stack=stack)
