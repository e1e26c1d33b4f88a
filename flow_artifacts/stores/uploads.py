"""Unfinished S3 multipart uploads: invisible to listings, billed, and left by killed writers.

They are listed and aborted through the S3 API that s3fs exposes (`call_s3`), so gc can clean
those of dead writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Upload:
    path: str
    """Where the object would appear: bucket and key, as fsspec spells paths."""
    upload_id: str


def multipart_uploads(fs: Any, root: str) -> Iterator[Upload]:
    """Every unfinished multipart upload under the store's root, page by page."""
    bucket, _, prefix = root.partition("/")
    query: dict[str, str] = {"Bucket": bucket, "Prefix": f"{prefix}/" if prefix else ""}
    while True:
        page = fs.call_s3("list_multipart_uploads", **query)
        for upload in page.get("Uploads") or []:
            yield Upload(f"{bucket}/{upload['Key']}", upload["UploadId"])
        if not page.get("IsTruncated"):
            return
        query["KeyMarker"] = page.get("NextKeyMarker", "")
        query["UploadIdMarker"] = page.get("NextUploadIdMarker", "")


def abort(fs: Any, upload: Upload) -> None:
    bucket, _, key = upload.path.partition("/")
    fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload.upload_id)
