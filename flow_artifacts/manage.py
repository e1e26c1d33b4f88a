"""Finding and curating artifacts: list, describe, update, tag, delete, reindex."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .api import ArtifactRef, resolve
from .artifact import Artifact
from .errors import ArtifactInUse, ArtifactNotFound, InvalidName
from .naming import validate_name
from .redact import redact_patch, scrub
from .stack import Stack, StackLike, resolve_stack
from .stores.store import ArtifactStore

if TYPE_CHECKING:
    from .rebuild import ReindexReport


@dataclass
class ArtifactPage:
    items: list[Artifact]
    next_cursor: str | None
    total: int | None = None
    """How many match in all pages, when `list_page(..., total=True)` asked for it."""


@dataclass
class Description:
    """An artifact with the versions of its name (one page) and the tags on them."""

    artifact: Artifact
    versions: ArtifactPage
    tags: dict[str, int]
    aspects: dict[str, Any]


def list_artifacts(
    project: str | None = None,
    *,
    name: str | None = None,
    kind: str | None = None,
    labels: Mapping[str, str] | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    run_id: str | None = None,
    tag: str | None = None,
    label_keys: Iterable[str] = (),
    text: str | None = None,
    page_size: int = 100,
    stack: StackLike | None = None,
) -> Iterator[Artifact]:
    """Matching artifacts, newest first, fetched lazily a page at a time. `run_id` keeps those
    a run wrote; `tag` those with that tag; `label_keys` those with these labels, whatever their
    value; `text` those with it (any case) in the name, description or a label. `since` and
    `until` take a datetime, `2d`/`3h`/`yesterday`, or an ISO string. An unknown `kind` is an
    error naming the kinds."""
    stack = resolve_stack(stack)
    for manifest in stack.catalog.iter_artifacts(
        project=project,
        name=name,
        kind=kind,
        labels=labels,
        since=since,
        until=until,
        run_id=run_id,
        tag=tag,
        label_keys=tuple(label_keys),
        text=text,
        page_size=page_size,
    ):
        yield Artifact(manifest, store=stack.store, stack=stack)


def list_page(
    project: str | None = None,
    *,
    cursor: str | None = None,
    page_size: int = 100,
    total: bool = False,
    stack: StackLike | None = None,
    **filters: Any,
) -> ArtifactPage:
    """One page of `list_artifacts`; pass `next_cursor` back as `cursor` for the next page.
    With `total=True` the page's `total` says how many match in all pages."""
    stack = resolve_stack(stack)
    page = stack.catalog.list_page(
        project=project, cursor=cursor, page_size=page_size, total=total, **filters
    )
    return ArtifactPage(_handles(stack, page.items), page.next_cursor, page.total)


def describe(
    ref: ArtifactRef,
    *,
    page_size: int = 20,
    cursor: str | None = None,
    stack: StackLike | None = None,
) -> Description:
    stack = resolve_stack(stack)
    artifact = resolve(ref, stack)
    versions = stack.catalog.versions(
        artifact.project, artifact.name, page_size=page_size, cursor=cursor
    )
    return Description(
        artifact=artifact,
        versions=ArtifactPage(_handles(stack, versions.items), versions.next_cursor),
        tags=stack.catalog.tags_of_name(artifact.project, artifact.name),
        aspects=stack.catalog.aspects(artifact.id),
    )


def update(
    ref: ArtifactRef,
    *,
    labels: Mapping[str, str | None] | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    stack: StackLike | None = None,
) -> Artifact:
    """Merge labels and user metadata (a None value removes a key) and/or set the description;
    returns the updated handle, whose `updated` is the time of this change. Secrets in them
    (secret-named keys, URL passwords) are recorded masked."""
    stack = resolve_stack(stack)
    manifest = stack.catalog.update(
        resolve(ref, stack).id,
        labels=redact_patch(labels),
        description=None if description is None else scrub(description),
        metadata=redact_patch(metadata),
        journal=stack.store.journal,
    )
    return Artifact(manifest, store=stack.store, stack=stack)


def tag(ref: ArtifactRef, tag: str, *, stack: StackLike | None = None) -> Artifact:
    """Point `tag` at this version, so `store://project/name:tag` resolves to it."""
    return resolve(ref, stack).tag(tag)


def untag(ref: ArtifactRef, tag: str, *, stack: StackLike | None = None) -> None:
    stack = resolve_stack(stack)
    artifact = resolve(ref, stack)
    stack.catalog.untag(artifact.project, artifact.name, tag, journal=stack.store.journal)


def delete(
    ref: ArtifactRef,
    project: str | None = None,
    *,
    all_versions: bool = False,
    force: bool = False,
    stack: StackLike | None = None,
) -> list[str]:
    """Delete one version (or with `all_versions`, every version of a name); returns the ids.

    `delete("clean", "demo", all_versions=True)` names an artifact by name and project. Refuses
    when another artifact was produced from one of them, unless `force`. The row goes first, so
    an interruption never leaves a row without bytes; the bytes it may leave are under a write
    lease, which `gc` finishes once it expired. The tombstones journaled with the rows keep the
    versions deleted through a `reindex`.
    """
    stack = resolve_stack(stack)
    if all_versions:
        if project is not None:
            name = validate_name(ref, "name") if isinstance(ref, str) else ref.name
            targets = list(stack.catalog.iter_artifacts(project=project, name=name))
        else:
            first = resolve(ref, stack)
            targets = list(stack.catalog.iter_artifacts(project=first.project, name=first.name))
        if not targets:
            raise ArtifactNotFound(f"no versions of {ref!r} in project {project!r}")
    else:
        if project is not None:
            raise InvalidName("project= is for all_versions=True; pass a full reference instead")
        targets = [resolve(ref, stack).manifest]
    ids = [m.id for m in targets]
    if not force:
        needed = stack.catalog.dependents(ids)
        if needed:
            names = ", ".join(str(m.uri) for m in needed[:5])
            raise ArtifactInUse(
                f"cannot delete {len(ids)} artifact(s): the lineage of {names} needs them. "
                "Delete those first, or pass force=True."
            )
    for manifest in targets:  # exactly the paths the rows record, proven inside the store
        stack.store.locate(manifest)
    with stack.store.deleting(targets):
        stack.catalog.delete_rows(ids, journal=stack.store.journal)
        for manifest in targets:
            stack.store.delete(manifest)
    return ids


def add_metadata(
    ref: ArtifactRef,
    aspect: str,
    body: Any,
    schema: Mapping[str, Any] | None = None,
    *,
    stack: StackLike | None = None,
) -> Artifact:
    """Attach a typed metadata record; validated against `schema` or the body's `$schema`."""
    return resolve(ref, stack).add_metadata(aspect, body, schema)


def reindex(
    store: ArtifactStore | None = None,
    *,
    trust_pickles: bool = False,
    stack: StackLike | None = None,
) -> ReindexReport:
    """Rebuild the catalog from `store` (default: the stack's): its manifests and its journal.

    Restores artifacts, versions, tags, labels, descriptions, aspects, lineage, runs and step
    runs; deleted versions stay deleted. Idempotent. Manifests and journal records that cannot
    be used are skipped and listed in the report's `skipped`; the rest is restored.
    Anyone who can write the store can plant a pickle, so restored pickles are refused by `load`
    until `trust_pickle` vouches for each; `trust_pickles=True` trusts them all at once, for a
    store only trusted people can write.
    """
    from .rebuild import rebuild

    stack = resolve_stack(stack)
    return rebuild(stack, store or stack.store, trust_pickles=trust_pickles)


def trust_pickle(ref: ArtifactRef, *, stack: StackLike | None = None) -> Artifact:
    """Let `load` unpickle a cataloged artifact that `reindex` restored from the store.

    Inspect where it came from first: loading a pickle runs code from its bytes. The decision is
    kept in this catalog only, never journaled, so no file in the store can make it.
    """
    stack = resolve_stack(stack)
    artifact = resolve(ref, stack)
    if artifact.from_store:
        raise ArtifactNotFound(
            f"{artifact.key} is in the store but not in the catalog; run `flow-artifacts "
            "reindex` first, then trust it by its catalog reference"
        )
    stack.catalog.trust_pickle(artifact.id)
    return artifact


def _handles(stack: Stack, manifests: list[Any]) -> list[Artifact]:
    return [Artifact(m, store=stack.store, stack=stack) for m in manifests]
