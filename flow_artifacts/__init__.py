"""flow_artifacts: the artifact layer for data and ML pipelines.

Names are imported on first use, so `import flow_artifacts` stays fast and pulls in neither pandas,
pyarrow nor SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

_EXPORTS = {
    "materialize": "api",
    "load": "api",
    "explain": "api",
    "get_artifact": "api",
    "upload_file": "api",
    "download": "api",
    "lineage": "api",
    "list_artifacts": "manage",
    "list_page": "manage",
    "describe": "manage",
    "update": "manage",
    "tag": "manage",
    "untag": "manage",
    "delete": "manage",
    "add_metadata": "manage",
    "reindex": "manage",
    "Stack": "stack",
    "get_stack": "stack",
    "use_stack": "stack",
    "step": "steps.decorator",
    "Step": "steps.decorator",
    "pipeline": "steps.pipeline",
    "Pipeline": "steps.pipeline",
    "run": "steps.context",
    "Run": "steps.context",
    "StepRun": "steps.context",
    "current_run": "steps.context",
    "ref": "steps.arguments",
    "Reference": "steps.arguments",
    "Outputs": "steps.outputs",
    "StepOutputError": "steps.outputs",
    "CacheWarning": "steps.cache",
    "Catalog": "catalog",
    "LineageGraph": "catalog",
    "ArtifactStore": "stores.store",
    "Artifact": "artifact",
    "Manifest": "manifest",
    "Materializer": "materializers.base",
    "ArtifactKind": "materializers.base",
    "PathTemplate": "template",
    "hookimpl": "hookspecs",
    "make_plugin_manager": "plugins",
    "PluginHost": "plugins",
    "StoreBackend": "stores.backend",
    "FlowArtifactsError": "errors",
    "ArtifactNotFound": "errors",
    "ArtifactExists": "errors",
    "NoMaterializerFound": "errors",
    "AmbiguousMaterializer": "errors",
    "MaterializerError": "errors",
    "ConfigError": "errors",
    "InvalidName": "errors",
    "PluginError": "errors",
    "IntegrityError": "errors",
    "StoreError": "errors",
    "StoreAccessDenied": "errors",
    "StoreNotFound": "errors",
    "StoreUnreachable": "errors",
    "UnsupportedOperation": "errors",
    "UnknownArtifacts": "errors",
    "CatalogError": "errors",
    "PickleFallbackWarning": "errors",
    "MetadataValidationError": "errors",
    "ArtifactInUse": "errors",
    "PickleRefused": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flow_artifacts' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .api import download, explain, get_artifact, lineage, load, materialize, upload_file
    from .artifact import Artifact
    from .catalog import Catalog, LineageGraph
    from .errors import (
        AmbiguousMaterializer,
        ArtifactExists,
        ArtifactInUse,
        ArtifactNotFound,
        CatalogError,
        ConfigError,
        FlowArtifactsError,
        IntegrityError,
        InvalidName,
        MaterializerError,
        MetadataValidationError,
        NoMaterializerFound,
        PickleFallbackWarning,
        PickleRefused,
        PluginError,
        StoreAccessDenied,
        StoreError,
        StoreNotFound,
        StoreUnreachable,
        UnknownArtifacts,
        UnsupportedOperation,
    )
    from .hookspecs import hookimpl
    from .manage import (
        add_metadata,
        delete,
        describe,
        list_artifacts,
        list_page,
        reindex,
        tag,
        untag,
        update,
    )
    from .manifest import Manifest
    from .materializers.base import ArtifactKind, Materializer
    from .plugins import PluginHost, make_plugin_manager
    from .stack import Stack, get_stack, use_stack
    from .steps.arguments import Reference, ref
    from .steps.cache import CacheWarning
    from .steps.context import Run, StepRun, current_run, run
    from .steps.decorator import Step, step
    from .steps.outputs import Outputs, StepOutputError
    from .steps.pipeline import Pipeline, pipeline
    from .stores.backend import StoreBackend
    from .stores.store import ArtifactStore
    from .template import PathTemplate
