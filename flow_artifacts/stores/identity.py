"""A store's identity: a random id recorded once at its root, whatever URL reaches it.

The catalog records this id with every row, so a moved project folder, a trailing slash, `file://`
or another endpoint alias of the same bucket is the same store, and another store is another.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from typing import Any

from ..errors import StoreError
from .failures import Failure, classify
from .paths import IDENTITY, RESERVED
from .transfer import read_record

FORMAT = "flow-artifacts-store"


def store_identity(fs: Any, root: str, *, local: bool) -> str:
    """The store's id, recorded on first use. Of two first users, the first record written wins
    (a conditional create) and both return it. Storage errors pass through, for the caller to
    translate."""
    path = f"{root}/{IDENTITY}"
    body = _read(fs, path)
    if body is None:
        _create(fs, root, path, json.dumps({"format": FORMAT, "id": str(uuid.uuid4())}), local)
        body = _read(fs, path)
    return _parse(body)


def _read(fs: Any, path: str) -> bytes | None:
    try:
        return read_record(fs, path)
    except FileNotFoundError:
        return None
    except Exception as exc:
        if classify(exc) is Failure.MISSING:
            return None
        raise


def _create(fs: Any, root: str, path: str, body: str, local: bool) -> None:
    """Write `body` at `path` unless something is there; never a partial record."""
    try:
        if local:
            os.makedirs(f"{root}/{RESERVED}", exist_ok=True)
            temp = f"{root}/{RESERVED}/.store-{uuid.uuid4().hex}.json"
            with open(temp, "w", encoding="utf-8") as f:
                f.write(body)
            try:
                os.link(temp, path)  # refuses to replace
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
        else:
            fs.pipe_file(path, body.encode(), mode="create")
    except Exception as exc:
        if classify(exc) is not Failure.EXISTS:
            raise


def _parse(body: bytes | None) -> str:
    try:
        record = json.loads(body or b"")
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise ValueError("not a store identity record")
        return str(uuid.UUID(record["id"]))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise StoreError(
            f"the store's identity record {IDENTITY} is damaged. Restore it from a copy of the "
            "store; without it the catalog cannot tell which artifacts live here."
        ) from None
