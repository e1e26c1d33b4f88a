"""Writing and reading artifacts on a stack: `materialize`, `load`, `get_artifact`, `lineage`...

Every function takes `stack=`: a `Stack`, a stack file path or `path#name`; without it, the
active stack (`get_stack()`) is used.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .artifact import Artifact
from .errors import ArtifactExists, ArtifactNotFound, ConfigError, InvalidName, shown_path
from .manifest import MANIFEST_SUFFIX, Manifest
from .manifest_checks import check_agrees
from .materializers.registry import Explanation
from .refs import artifact_uri, is_reference, parse_ref

if TYPE_CHECKING:
    from .catalog.lineage import Direction, LineageGraph
    from .materializers.base import Materializer
    from .materializers.registry import Dispatch
    from .stack import Stack, StackLike
    from .stores.leases import PendingWrite

ArtifactRef = Artifact | str
_resolve_stack: list[Callable[[StackLike | None], Stack]] = []


def materialize(
    obj: Any,
    name: str,
    run_id: str,
    step_name: str,
    project: str | None = None,
    *,
    inputs: Iterable[ArtifactRef] = (),
    labels: Mapping[str, str] | None = None,
    description: str = "",
    metadata: Mapping[str, Any] | None = None,
    materializer: str | None = None,
    overrides: Mapping[str, str] | None = None,
    materializer_options: Mapping[str, Any] | None = None,
    kind: str | None = None,
    pipeline: str = "default",
    step_run_id: str | None = None,
    stack: StackLike | None = None,
) -> Artifact:
    """Save `obj` as the next version of `project/name`, produced by `step_name` of `run_id`.

    `inputs` (handles or references) become lineage edges; `labels`, `description` and
    `metadata` (JSON-able) are recorded with it; `materializer_options` go to the chosen
    materializer (e.g. `{"compression": "zstd"}` for Parquet). Returns the committed artifact's
    handle.
    """
    stack, project, input_ids, dispatch = _writing(
        stack, project, inputs, materializer, overrides, materializer_options
    )
    store = stack.store
    versioned = False
    while True:
        manifest = store.write_data(
            obj, dispatch.choose, name=name, project=project, run_id=run_id, step=step_name,
            pipeline=pipeline, labels=labels, description=description, metadata=metadata,
            kind=kind, next_version=lambda: stack.catalog.next_version(project, name),
            versioned=versioned,
        )  # fmt: skip
        try:
            stack.catalog.record(
                manifest,
                store_url=store.url,
                store_id=store.identity,  # known since write_data
                publish=store.write_manifest,
                inputs=input_ids,
                step_run_id=step_run_id,
                journal=store.journal,
            )
        except ArtifactExists:
            # the key's manifest appeared after our bytes (object stores check it only when
            # publishing): write once more, at the next versioned key
            _withdraw_all(stack, [manifest])
            if versioned:
                raise
            versioned = True
            continue
        except BaseException:
            _withdraw_all(stack, [manifest])
            raise
        store.finish_write(manifest)
        return Artifact(manifest, store=store, stack=stack)


def materialize_many(
    objects: Mapping[str, Any],
    run_id: str,
    step_name: str,
    project: str | None = None,
    *,
    inputs: Iterable[ArtifactRef] = (),
    labels: Mapping[str, str] | None = None,
    description: str = "",
    metadata: Mapping[str, Any] | None = None,
    materializer: str | None = None,
    overrides: Mapping[str, str] | None = None,
    materializer_options: Mapping[str, Any] | None = None,
    kind: str | None = None,
    pipeline: str = "default",
    step_run_id: str | None = None,
    stack: StackLike | None = None,
) -> dict[str, Artifact]:
    """Save each value of `objects` under its name, produced by `step_name` of `run_id`, and
    commit them all in one catalog transaction: either every one is committed, or none is.

    The other arguments are `materialize`'s, applied to each. Many small artifacts commit far
    faster this way than one `materialize` each. Returns name -> committed handle.
    """
    if not isinstance(objects, Mapping):
        raise ConfigError(
            "materialize_many takes a mapping of name -> object, e.g. "
            f"{{'metrics': report, 'model': model}}, not {type(objects).__name__}"
        )
    stack, project, input_ids, dispatch = _writing(
        stack, project, inputs, materializer, overrides, materializer_options
    )
    store = stack.store
    from .stores.leases import Target  # loaded with the store, not with the public names

    # what each write will make, named by the batch's one pending-write record before any byte
    plan = []
    for name, obj in objects.items():
        chosen = dispatch.choose(obj)
        key = store.template.render(
            project=project, run_id=run_id, step=step_name, name=name, pipeline=pipeline
        )
        plan.append((name, obj, chosen, Target(key, key + chosen.extension_for(obj), _new_id())))
    if not plan:
        return {}
    for attempt in range(2):
        manifests: list[Manifest] = []
        batch = store.batch_write([target for *_, target in plan])
        try:
            for name, obj, chosen, target in plan:
                manifest = store.write_data(
                    obj, functools.partial(_chosen, chosen), name=name, key=target.key,
                    project=project, run_id=run_id, step=step_name, pipeline=pipeline,
                    labels=labels, description=description, metadata=metadata, kind=kind,
                    next_version=functools.partial(stack.catalog.next_version, project, name),
                    artifact_id=target.artifact_id, batch=batch,
                )  # fmt: skip
                manifests.append(manifest)
            stack.catalog.record_many(
                manifests,
                store_url=store.url,
                store_id=store.identity,
                publish=store.write_manifest,
                inputs=input_ids,
                step_run_id=step_run_id,
                journal=store.journal,
            )
        except ArtifactExists:
            # a key's manifest appeared after our bytes (object stores check it only when
            # publishing): withdraw all, and write them once more past the taken keys
            _withdraw_all(stack, manifests, batch)
            if attempt:
                raise
            plan = [(n, o, c, t._replace(artifact_id=_new_id())) for n, o, c, t in plan]
            continue
        except BaseException:
            _withdraw_all(stack, manifests, batch)
            raise
        for manifest in manifests:
            store.finish_write(manifest)
        store.end_batch(batch)
        return {m.name: Artifact(m, store=store, stack=stack) for m in manifests}
    raise AssertionError("unreachable")


def _chosen(materializer: Materializer, obj: Any) -> Materializer:
    """The materializer a batch chose for `obj` when it planned its write."""
    return materializer


def _new_id() -> str:
    return str(uuid.uuid4())


def _writing(
    stack: StackLike | None,
    project: str | None,
    inputs: Iterable[ArtifactRef],
    materializer: str | None,
    overrides: Mapping[str, str] | None,
    options: Mapping[str, Any] | None,
) -> tuple[Stack, str, list[str], Dispatch]:
    """What a write needs first: the stack, the project, its inputs' ids (each must exist) and
    the materializer choice, so a bad argument fails before any byte is written."""
    resolved = _stack(stack)
    project = resolved.project if project is None else project
    input_ids = [resolve(ref, resolved).id for ref in inputs]
    dispatch = resolved.dispatch(
        project, materializer=materializer, overrides=overrides, options=options
    )
    return resolved, project, input_ids, dispatch


def _stack(stack: StackLike | None) -> Stack:
    """The stack a call works on (`resolve_stack`: imported on first use, with the store)."""
    if not _resolve_stack:  # an import statement run per call costs a small load 1 µs
        from .stack.stack import resolve_stack

        _resolve_stack.append(resolve_stack)
    return _resolve_stack[0](stack)


def _withdraw_all(
    stack: Stack, manifests: list[Manifest], batch: PendingWrite | None = None
) -> None:
    """Leave no trace of writes whose catalog rows did not commit, so their keys stay writable,
    asking the catalog once; then `batch` (theirs) ends. Every write ends though another's
    withdrawal failed (the first failure is raised then).

    If the catalog cannot say whether the rows committed (say, the connection died during
    COMMIT), nothing is removed: `reindex` or `gc` settle it later.
    """
    try:
        committed = {m.id for m in stack.catalog.by_ids([m.id for m in manifests])}
    except Exception:
        committed = None
    failure: Exception | None = None
    try:
        for manifest in manifests:
            try:
                if committed is None:
                    stack.store.abandon_write(manifest)
                elif manifest.id in committed:
                    stack.store.finish_write(manifest)
                else:
                    stack.store.discard_unpublished(manifest)
            except Exception as exc:
                failure = failure or exc
    finally:
        if batch is not None:
            stack.store.end_batch(batch)
    if failure is not None:
        raise failure


def upload_file(
    path: str | os.PathLike[str],
    name: str,
    project: str | None = None,
    *,
    run_id: str | None = None,
    step_name: str = "upload",
    follow_symlinks: bool = False,
    ignore_files: Iterable[str] | None = None,
    stack: StackLike | None = None,
    **options: Any,
) -> Artifact:
    """Store a local file or directory as an artifact, bytes as they are (streamed).

    A directory contributes its regular files but those its `.artifactignore` (else its
    `.dockerignore`) leaves out, or the files named by `ignore_files` (inside it, all read);
    symbolic links leading outside it, links to folders, FIFOs, sockets and devices are refused
    in one error, unless `follow_symlinks` copies what the links point to.
    """
    if isinstance(ignore_files, str):
        ignore_files = [ignore_files]
    from .materializers.path_copy import Upload

    source = Path(path)
    if not source.exists():
        raise ArtifactNotFound(f"cannot upload {shown_path(source)}: no such file or directory")
    run_id = run_id or f"upload-{uuid.uuid4().hex[:12]}"
    return materialize(
        Upload(source, follow_symlinks, None if ignore_files is None else tuple(ignore_files)),
        name,
        run_id,
        step_name,
        project,
        materializer="filesystem.path",
        stack=stack,
        **options,
    )


def load(
    ref: ArtifactRef,
    *,
    version: int | None = None,
    verify: bool = True,
    stack: StackLike | None = None,
) -> Any:
    """The object of an artifact (or of version `version` of its name), checksum verified, from
    a handle or any reference."""
    return _at_version(resolve(ref, stack), version, stack).load(verify=verify)


def _at_version(artifact: Artifact, version: int | None, stack: StackLike | None) -> Artifact:
    if version is None or version == artifact.version:
        return artifact
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidName(f"version must be a positive integer, got {version!r:.40}")
    return resolve(artifact_uri(artifact.project, artifact.name, version), stack)


def explain(
    obj: Any,
    *,
    materializer: str | None = None,
    overrides: Mapping[str, str] | None = None,
    project: str | None = None,
    stack: StackLike | None = None,
) -> Explanation:
    """Which materializer `materialize` would save `obj` with on this stack, and why: the same
    rule (stack and call overrides, the pickle policy of `project`). A type explains what its
    instances would get."""
    stack = _stack(stack)
    dispatch = stack.dispatch(project, materializer=materializer, overrides=overrides)
    return dispatch.explain_type(obj) if isinstance(obj, type) else dispatch.explain(obj)


def get_artifact(ref: ArtifactRef, *, stack: StackLike | None = None) -> Artifact:
    """The artifact for an id, URN, `store://project/name[@version|:tag]`, or store path."""
    return resolve(ref, stack)


def resolve(ref: ArtifactRef, stack: StackLike | None = None) -> Artifact:
    """The artifact a handle or reference names. Besides ids, URNs and `store://` references,
    `project/name@version` and `project/name:tag` (as typed on the command line) are read as
    references; another string is a path inside the store, and `project/name` that is no such
    path names the newest version."""
    if isinstance(ref, Artifact):
        return ref
    stack = _stack(stack)
    try:
        parsed = parse_ref(ref)
    except InvalidName:
        if not isinstance(ref, str) or is_reference(ref):
            raise
        if ("@" in ref or ":" in ref) and "://" not in ref:
            parsed = parse_ref(ref, bare=True)
        else:
            return _at_store_path(ref, stack)
    return Artifact(stack.catalog.get(parsed), store=stack.store, stack=stack)


def _at_store_path(ref: str, stack: Stack) -> Artifact:
    """The artifact at a path inside the store, e.g. from `store.list_artifacts()`.

    The catalog row recorded at that key wins; the store's manifest is read only when no row
    is, and then it must agree with any row recording the same id, and is never unpickled.
    """
    store = stack.store
    keys = store.keys_for(ref)
    recorded = stack.catalog.at_keys(store.identity, keys) if keys else None
    if recorded is not None:
        return Artifact(recorded, store=store, stack=stack)
    try:
        found = store.get_manifest(ref)
    except ArtifactNotFound:
        if ref.strip("/").count("/") == 1:  # project/name: its newest version
            bare = parse_ref(ref.strip("/"), bare=True)
            return Artifact(stack.catalog.get(bare), store=store, stack=stack)
        raise ArtifactNotFound(
            f"no artifact {ref!r}: give a reference (store://project/name[@version|:tag], "
            "project/name@version, an id or URN) or a path inside the store"
        ) from None
    for row in stack.catalog.by_ids([found.id]):
        check_agrees(found, row, f"{found.key}{MANIFEST_SUFFIX} in {store}")
        return Artifact(row, store=store, stack=stack)
    return Artifact(found, store=store, stack=stack, from_store=True)


def download(
    ref: ArtifactRef,
    path: str | os.PathLike[str],
    version: int | None = None,
    *,
    stack: StackLike | None = None,
) -> Path:
    """Stream an artifact (or version `version` of its name) to local `path`, verified; into
    `path` when it is an existing folder."""
    return _at_version(resolve(ref, stack), version, stack).download(path)


def lineage(
    ref: ArtifactRef,
    direction: Direction = "upstream",
    depth: int | None = None,
    *,
    stack: StackLike | None = None,
) -> LineageGraph:
    """Artifacts and step runs upstream (what it came from) or downstream (what used it)."""
    return resolve(ref, stack).lineage(direction, depth)
