"""A store whose block size is set below S3's smallest part (5 MiB) still stores big files:
its parts are never smaller than S3 accepts (s3fs's own file object refused such a block size;
the concurrent upload must not send parts S3 rejects when completing)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import flow_artifacts as fa
from tests.test_store_support import Target, make_stack_fixture  # noqa: F401

MIB = 1 << 20


@pytest.fixture
def s3_small_blocks(s3_bucket_url: tuple[str, dict[str, Any]]) -> Target:
    url, options = s3_bucket_url
    return "s3", url, {**options, "default_block_size": 1 * MIB}


def test_a_big_file_is_stored_with_a_small_block_size(
    s3_small_blocks: Target, make_stack, tmp_path: Path
) -> None:
    stack = make_stack(s3_small_blocks)
    source = tmp_path / "big.bin"
    body = os.urandom(12 * MIB)
    source.write_bytes(body)
    art = fa.upload_file(source, "big", "demo", stack=stack)
    assert art.open().read() == body
