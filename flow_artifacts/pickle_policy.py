"""Whether a pickled artifact may be loaded: loading a pickle runs code from its bytes.

A stack loads a pickle only when its own catalog recorded it with the same checksum (so the bytes
are the ones one of its writers produced), never when the stack says `allow_pickle: false`, and
with `allow_pickle: trusted-projects` only in the projects listed under `trusted_projects`.
A pickle merely found in the store, without a catalog row, is refused, and so is one whose row
`reindex` restored from the store, until someone trusts it (`trust_pickle`): the store is
untrusted input, so its content alone never makes a pickle loadable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ArtifactNotFound, IntegrityError, PickleRefused

if TYPE_CHECKING:
    from .artifact import Artifact


def check_may_load(artifact: Artifact, stack: Any) -> None:
    """`PickleRefused` or `IntegrityError` if `artifact` is a pickle the stack must not load."""
    materializer = stack.plugins.materializers.get(artifact.materializer)
    if not materializer.uses_pickle:
        return
    where = artifact.uri or artifact.key
    if not stack.pickles_allowed(artifact.project):
        setting = (
            f"trusts pickles only in projects {', '.join(stack.trusted_projects)}"
            if stack.allow_pickle == "trusted-projects"
            else "sets allow_pickle: false"
        )
        raise PickleRefused(
            f"{where} is a pickle and this stack {setting}; load it with a stack that allows "
            "pickles only if you trust whoever wrote it"
        )
    recorded = None if artifact.from_store else _recorded(stack, artifact.id)
    if recorded is None:
        raise PickleRefused(
            f"{where} is a pickle found in the store without a catalog row, so nobody vouches for "
            "its bytes; run `flow-artifacts reindex` if you trust the store, then load it"
        )
    if recorded.checksum != artifact.checksum:
        raise IntegrityError(
            f"{where}: its manifest checksum differs from the catalog's; refusing to unpickle it"
        )
    if not stack.catalog.pickle_trusted(artifact.id):
        ref = artifact.uri or artifact.id
        raise PickleRefused(
            f"{where} is a pickle that reindex restored from the store, where anyone with write "
            "access could have planted it; inspect where it came from, then trust it with "
            f"`fa.trust_pickle({ref!r})` or `flow-artifacts trust {ref}`, or "
            "reindex with `trust_pickles=True` (`--trust-pickles`) if you trust everyone who can "
            "write the store"
        )


def _recorded(stack: Any, artifact_id: str) -> Any:
    try:
        return stack.catalog.get(artifact_id)
    except ArtifactNotFound:
        return None
