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
            "s3", ("s3", "s3a"), requires="s3fs", install='pip install "flow-artifacts[s3]"',
            buckets=True, can_sign=True, exclusive_create=True, multipart_uploads=True,
        )
    )  # fmt: skip
    register(
        StoreBackend(
            "gcs", ("gs", "gcs"), requires="gcsfs", install='pip install "flow-artifacts[gcs]"',
            sign_hint="GCS signs with service-account credentials: pass them as "
            "presigned_url(..., credentials=...).",
            buckets=True, can_sign=True, exclusive_create=True,
        )
    )  # fmt: skip
    register(
        StoreBackend(
            "azure", ("az", "abfs", "abfss"), requires="adlfs",
            install='pip install "flow-artifacts[azure]"',
            sign_hint="Azure SAS URLs need the account key (in the connection string or "
            "account_key=).",
            buckets=True, can_sign=True, exclusive_create=True,
        )
    )  # fmt: skip
