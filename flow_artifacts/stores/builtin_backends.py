"""Built-in store backends, registered through the same hook as a plugin's."""

from __future__ import annotations

from collections.abc import Callable

from ..hookspecs import hookimpl
from .backend import StoreBackend


@hookimpl
def register_store_backends(register: Callable[[StoreBackend], None]) -> None:
    register(StoreBackend("local", ("file", "local"), atomic_rename=True))
    register(StoreBackend("memory", ("memory",), atomic_rename=True))
    register(
        StoreBackend(
            "s3",
            ("s3", "s3a"),
            requires="s3fs",
            install='pip install "flow-artifacts[s3]"',
            can_sign=True,
            exclusive_create=True,
        )
    )
    register(
        StoreBackend(
            "gcs",
            ("gs", "gcs"),
            requires="gcsfs",
            install='pip install "flow-artifacts[gcs]"',
            can_sign=True,
            exclusive_create=True,
        )
    )
    register(
        StoreBackend(
            "azure",
            ("az", "abfs", "abfss"),
            requires="adlfs",
            install='pip install "flow-artifacts[azure]"',
            can_sign=True,
            exclusive_create=True,
        )
    )
