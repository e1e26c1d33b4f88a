"""What a storage SDK's exception means for the user: missing, denied, unreachable, or taken.

Each SDK says it differently: s3fs and gcsfs raise OSError subclasses, adlfs wraps Azure's
`HttpResponseError` in a `RuntimeError`, aiohttp and botocore have their own connection errors. The
whole chain of causes is inspected, so the meaning survives however deeply a library wrapped it.
SDK exception types are recognised by name, so none of them is imported here.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..errors import (
    ArtifactDataMissing,
    ArtifactExists,
    FlowArtifactsError,
    MaterializerError,
    StoreAccessDenied,
    StoreError,
    StoreNotFound,
    StoreUnreachable,
)
from ..redact import scrub

_DENIED_NAMES = frozenset({"ClientAuthenticationError", "NoCredentialsError"})
_MISSING_NAMES = frozenset({"ResourceNotFoundError", "NoSuchBucket", "NoSuchKey"})
_UNREACHABLE_NAMES = frozenset(
    {
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ServiceRequestError",
        "ServiceResponseError",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    }
)
_FAILED_NAMES = frozenset({"HttpResponseError", "AzureError", "BotoCoreError", "HttpError"})
DETAIL_LIMIT = 300


class Failure(Enum):
    EXISTS = "exists"
    DENIED = "denied"
    MISSING = "missing"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    """A storage error with no more specific meaning (an OSError, an SDK's HTTP error)."""


def classify(exc: BaseException) -> Failure | None:
    """What `exc` means, from the outermost cause that says; None if it is no storage error."""
    chain = list(_chain(exc))
    for error in chain:
        names = {cls.__name__ for cls in type(error).__mro__}
        status = _status(error)
        if isinstance(error, FileExistsError) or status == 412:
            return Failure.EXISTS
        if isinstance(error, PermissionError) or status in (401, 403) or names & _DENIED_NAMES:
            return Failure.DENIED
        if isinstance(error, FileNotFoundError) or status == 404 or names & _MISSING_NAMES:
            return Failure.MISSING
        if isinstance(error, (ConnectionError, *_timeouts())) or names & _UNREACHABLE_NAMES:
            return Failure.UNREACHABLE
    for error in chain:
        if isinstance(error, OSError) or {c.__name__ for c in type(error).__mro__} & _FAILED_NAMES:
            return Failure.FAILED
    return None


@dataclass(frozen=True)
class ErrorTranslator:
    """Turns SDK exceptions into store errors naming the store and the artifact, scrubbed of
    the secrets in the store's options."""

    store: object
    """The store, named in messages by its `str()` (no secret, no absolute path), taken when a
    message is made: paths in it are relative to the current folder of that moment."""
    secrets: tuple[str, ...]
    root_missing: Callable[[], bool]
    """Whether the bucket (or root folder) is gone: asked only to explain a missing path."""
    root: str
    """The store's root, cut from SDK messages so they name store-relative paths."""

    @contextlib.contextmanager
    def io(self, operation: str, key: str) -> Iterator[None]:
        """Around storage calls made while `operation` ("writing"...) the artifact `key`."""
        try:
            yield
        except FlowArtifactsError:
            raise
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            raise self.error(failure, operation, key, exc) from exc

    def scrub(self, message: str) -> str:
        """`message` without secrets and with paths relative to the store's root."""
        message = scrub(message, self.secrets)
        return message.replace(self.root + "/", "") if self.root else message

    def error(
        self, failure: Failure, operation: str, key: str, exc: BaseException | None = None
    ) -> FlowArtifactsError:
        detail = self.scrub(str(exc)).strip() if exc is not None else ""
        detail = detail.splitlines()[0][:DETAIL_LIMIT] if detail else "no detail"
        what = f"{operation} artifact {key!r}"
        if failure is Failure.EXISTS:
            return ArtifactExists(
                f"artifact {key!r} already exists in {self.store}; artifacts are written once. "
                "Use a new run_id or name, or delete the old artifact first."
            )
        if failure is Failure.DENIED:
            return StoreAccessDenied(
                f"{self.store} denied access while {what} ({detail}). Check the credentials in "
                "storage_options or the environment."
            )
        if failure is Failure.MISSING and self.root_missing():
            return StoreNotFound(
                f"{self.store} does not exist (while {what}): create the bucket, container or "
                "folder first; flow_artifacts never creates one"
            )
        if failure is Failure.MISSING and operation == "reading":
            return ArtifactDataMissing(
                f"the bytes of artifact {key!r} are missing from {self.store}: restore them "
                "from a backup, or delete the artifact"
            )
        if failure is Failure.MISSING:
            return StoreNotFound(f"{self.store} has no place for {what} ({detail})")
        if failure is Failure.UNREACHABLE:
            return StoreUnreachable(
                f"{self.store} did not answer while {what} ({detail}). Check the endpoint and "
                "network."
            )
        return StoreError(f"{self.store} failed while {what}: {detail}")


@contextlib.contextmanager
def materializer_failures(materializer: Any, action: str, key: str) -> Iterator[None]:
    """Around a materializer's own `save` or `load`: its failures become `MaterializerError`
    naming it and the artifact, while our errors, OS errors and storage failures an SDK wrapped
    (adlfs raises RuntimeError) pass through to be translated as store errors."""
    try:
        yield
    except (FlowArtifactsError, OSError):
        raise
    except Exception as exc:
        if classify(exc) is not None:
            raise
        raise MaterializerError(
            f"materializer {materializer.id!r} failed to {action} artifact {key!r}: {exc}"
        ) from exc


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _status(error: BaseException) -> int | None:
    """The HTTP status an SDK attached to its exception, under whichever name it uses."""
    for attribute in ("status_code", "status", "code"):
        value = getattr(error, attribute, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


def _timeouts() -> tuple[type[BaseException], ...]:
    """The timeout errors: asyncio's is its own class before Python 3.11, and one can only have
    been raised if asyncio was imported (it is not imported here: it costs more than this API)."""
    asyncio = sys.modules.get("asyncio")
    return (TimeoutError,) if asyncio is None else (TimeoutError, asyncio.TimeoutError)
