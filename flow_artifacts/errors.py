"""One family of exceptions, so callers can catch everything flow_artifacts raises with one clause.

Every message names the thing that went wrong (artifact, materializer, plugin, file) and what to do,
in the user's terms: store-relative keys and references, never internal reprs or absolute paths
(`shown_path`).
"""

from __future__ import annotations

import os
from pathlib import Path

SHOWN_PARTS = 2
"""Trailing parts of a path outside the current folder and home that a message keeps."""


def shown_path(path: str | os.PathLike[str]) -> str:
    """`path` as a message shows it: relative to the current folder when inside it, `~/...`
    under the home folder, else its last parts after `.../`. An absolute path says where the
    user's machine keeps things (home folder, user name, temp dirs): a message need not."""
    given = Path(os.fspath(path))
    if not given.is_absolute():
        try:
            given = Path(os.path.abspath(given))
        except OSError:  # the current folder was deleted: a relative path is shown as given
            return str(given)
    for base, shown in _bases():
        if base != Path(base.anchor) and given.is_relative_to(base):
            return str(shown / given.relative_to(base))
    return str(Path("...", *given.parts[-SHOWN_PARTS:]))


def _bases() -> list[tuple[Path, Path]]:
    """The current folder and home, each when it can be known: the current folder may have
    been deleted and a container may have no home; a message must still be written."""
    found = []
    for where, shown in ((Path.cwd, Path()), (Path.home, Path("~"))):
        try:
            found.append((where(), shown))
        except (OSError, RuntimeError, KeyError):
            continue
    return found


class FlowArtifactsError(Exception):
    """Base class of every error raised by flow_artifacts."""

    hint: str | None = None
    """What the command line prints as its `hint:` line: None for the usual hint of the
    error's kind, "" for none (the message already says what to do)."""


class ArtifactNotFound(FlowArtifactsError, LookupError):
    """A reference, path or id resolves to no artifact."""


class ArtifactExists(FlowArtifactsError, FileExistsError):
    """An artifact path is written once; this one is taken."""


class NoMaterializerFound(FlowArtifactsError, TypeError):
    """No registered materializer accepts the object."""


class AmbiguousMaterializer(FlowArtifactsError, TypeError):
    """Two materializers claim the same type with equal specificity."""


class MaterializerError(FlowArtifactsError):
    """A materializer failed while saving or loading; the cause is chained."""


class ConfigError(FlowArtifactsError, ValueError):
    """A setting, template or stack file is invalid."""


class InvalidName(ConfigError):
    """A project, run id, step or artifact name cannot be used in a path."""


class InvalidMoment(ConfigError):
    """A time filter (`since`, `until`) is neither a relative time nor an ISO date or time."""

    hint = ""


class PluginError(FlowArtifactsError):
    """A plugin registered something invalid or conflicting."""


class IntegrityError(FlowArtifactsError):
    """Stored bytes or a manifest do not match what was recorded."""


class ArtifactDataMissing(ArtifactNotFound, IntegrityError):
    """A recorded artifact's bytes are gone from the store: not found, and damage to repair."""


class StoreError(FlowArtifactsError):
    """The artifact store could not be reached or refused an operation."""


class StoreAccessDenied(StoreError, PermissionError):
    """The store refused the credentials in use."""


class StoreNotFound(StoreError):
    """The bucket, container or root folder of the store does not exist."""


class StoreUnreachable(StoreError, ConnectionError):
    """The store did not answer (network, DNS, endpoint down)."""


class UnknownArtifacts(FlowArtifactsError):
    """The store holds artifacts the catalog does not know (a lost or foreign catalog)."""


class UnsupportedOperation(FlowArtifactsError):
    """The store or materializer cannot do what was asked."""


class CatalogError(FlowArtifactsError):
    """The catalog database refused an operation or has an unusable schema."""


class FlowArtifactsWarning(UserWarning):
    """Base class of warnings issued by flow_artifacts."""


class PickleFallbackWarning(FlowArtifactsWarning):
    """An object was pickled although a safer materializer could handle it."""


class MetadataValidationError(FlowArtifactsError, ValueError):
    """A metadata aspect does not match its JSON Schema."""


class ArtifactInUse(FlowArtifactsError):
    """An artifact cannot be deleted: another artifact's lineage needs it."""


class PickleRefused(FlowArtifactsError):
    """Loading this pickle could run code nobody vouched for, so it is refused."""
