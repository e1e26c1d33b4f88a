"""Hostile-review: bad input must give a FlowArtifactsError, never a raw exception or repr."""

import numpy as np
import pandas as pd
import pytest

import flow_artifacts as fa
from flow_artifacts.errors import FlowArtifactsError
from flow_artifacts.moments import when_given


def test_review_materializer_option_array_value_is_clear_error(local_stack):
    df = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(FlowArtifactsError):
        fa.materialize(
            df, "t", "r1", "s", materializer_options={"compression": np.array(["zstd", "snappy"])}
        )


def test_review_materializer_option_unhashable_name_is_clear_error(local_stack):
    df = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(FlowArtifactsError):
        fa.materialize(df, "t", "r1", "s", materializer_options={("compression",): "zstd"})


def test_review_materializer_option_error_shows_no_repr(local_stack):
    class Secretive:
        def __repr__(self) -> str:
            return "<Secretive at 0xdeadbeef password=hunter2hunter2>"

    df = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(FlowArtifactsError) as err:
        fa.materialize(df, "t", "r1", "s", materializer_options={"compression": Secretive()})
    assert "0xdeadbeef" not in str(err.value)
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize("text", ["999999999w", "1e400", "2026-13-45", "\x00", "-2d", "2d3h"])
def test_review_when_given_bad_text_is_clear_error(text):
    with pytest.raises(FlowArtifactsError):
        when_given(text, "--since")


def test_review_add_metadata_ivcap_record_with_bad_schema_id(local_stack):
    art = fa.materialize({"a": 1}, "m", "r1", "s")
    with pytest.raises(FlowArtifactsError):
        art.add_metadata({"rows": 1}, schema={"type": ["not", "a", "schema"]})
