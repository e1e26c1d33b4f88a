"""One family of exceptions, so callers can catch everything flow_artifacts raises with one clause.

Every message names the thing that went wrong (artifact, materializer, plugin, file) and what to do.
"""

from __future__ import annotations


class FlowArtifactsError(Exception):
    """Base class of every error raised by flow_artifacts."""


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


class PluginError(FlowArtifactsError):
    """A plugin registered something invalid or conflicting."""


class IntegrityError(FlowArtifactsError):
    """Stored bytes or a manifest do not match what was recorded."""


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
