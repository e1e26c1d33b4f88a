"""A materializer option value holding a URL with a password (a secret by structure) is never
shown in the error refusing it, wherever the options were given."""

from __future__ import annotations

import pandas as pd
import pytest

import flow_artifacts as fa

PASSWORD = "hunter2-s3cr3t-pw"
VALUE = f"https://bob:{PASSWORD}@example.com/x"


@pytest.fixture
def stack(tmp_path):
    stack = fa.Stack.local(tmp_path / "fa")
    yield stack
    stack.close()


def test_options_given_in_code_never_show_a_url_password(stack):
    with pytest.raises(fa.ConfigError, match="option 'compression' cannot be") as caught:
        fa.Stack(
            store=stack.store,
            catalog=stack.catalog,
            materializer_options={"pandas.parquet": {"compression": VALUE}},
        )
    assert PASSWORD not in str(caught.value)


def test_a_calls_options_never_show_a_url_password(stack):
    frame = pd.DataFrame({"a": [1]})
    with pytest.raises(fa.ConfigError, match="option 'compression' cannot be") as caught:
        fa.materialize(
            frame, "t", "r1", "s", "demo", materializer_options={"compression": VALUE}, stack=stack
        )
    assert PASSWORD not in str(caught.value)
    assert not list(stack.catalog.iter_artifacts(page_size=10))  # nothing was stored
