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
    "materialize_many": "api",
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
    "trust_pickle": "manage",
    "Stack": "stack",
    "get_stack": "stack",
    "use_stack": "stack",
    "step": "steps.decorator",
    "Step": "steps.decorator",
    "pipeline": "steps.pipeline",
    "Pipeline": "steps.pipeline",
    "run": "steps.context",
    "Run": "steps.context",
    "StepRun": "steps.step_run",
    "RunTicket": "steps.ticket",
    "current_run": "steps.context",
    "ref": "steps.arguments",
    "Executor": "steps.executors",
    "DaskExecutor": "steps.executors",
    "RayExecutor": "steps.executors",
    "StepHandle": "steps.distributed",
    "StackSpec": "steps.stack_spec",
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
    "InvalidMoment": "errors",
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


if TYPE_CHECKING:  # `X as X`: re-exported names, for type checkers
    from .api import download as download
    from .api import explain as explain
    from .api import get_artifact as get_artifact
    from .api import lineage as lineage
    from .api import load as load
    from .api import materialize as materialize
    from .api import materialize_many as materialize_many
    from .api import upload_file as upload_file
    from .artifact import Artifact as Artifact
    from .catalog import Catalog as Catalog
    from .catalog import LineageGraph as LineageGraph
    from .errors import AmbiguousMaterializer as AmbiguousMaterializer
    from .errors import ArtifactExists as ArtifactExists
    from .errors import ArtifactInUse as ArtifactInUse
    from .errors import ArtifactNotFound as ArtifactNotFound
    from .errors import CatalogError as CatalogError
    from .errors import ConfigError as ConfigError
    from .errors import FlowArtifactsError as FlowArtifactsError
    from .errors import IntegrityError as IntegrityError
    from .errors import InvalidMoment as InvalidMoment
    from .errors import InvalidName as InvalidName
    from .errors import MaterializerError as MaterializerError
    from .errors import MetadataValidationError as MetadataValidationError
    from .errors import NoMaterializerFound as NoMaterializerFound
    from .errors import PickleFallbackWarning as PickleFallbackWarning
    from .errors import PickleRefused as PickleRefused
    from .errors import PluginError as PluginError
    from .errors import StoreAccessDenied as StoreAccessDenied
    from .errors import StoreError as StoreError
    from .errors import StoreNotFound as StoreNotFound
    from .errors import StoreUnreachable as StoreUnreachable
    from .errors import UnknownArtifacts as UnknownArtifacts
    from .errors import UnsupportedOperation as UnsupportedOperation
    from .hookspecs import hookimpl as hookimpl
    from .manage import add_metadata as add_metadata
    from .manage import delete as delete
    from .manage import describe as describe
    from .manage import list_artifacts as list_artifacts
    from .manage import list_page as list_page
    from .manage import reindex as reindex
    from .manage import tag as tag
    from .manage import trust_pickle as trust_pickle
    from .manage import untag as untag
    from .manage import update as update
    from .manifest import Manifest as Manifest
    from .materializers.base import ArtifactKind as ArtifactKind
    from .materializers.base import Materializer as Materializer
    from .plugins import PluginHost as PluginHost
    from .plugins import make_plugin_manager as make_plugin_manager
    from .stack import Stack as Stack
    from .stack import get_stack as get_stack
    from .stack import use_stack as use_stack
    from .steps.arguments import Reference as Reference
    from .steps.arguments import ref as ref
    from .steps.cache import CacheWarning as CacheWarning
    from .steps.context import Run as Run
    from .steps.context import current_run as current_run
    from .steps.context import run as run
    from .steps.decorator import Step as Step
    from .steps.decorator import step as step
    from .steps.distributed import StepHandle as StepHandle
    from .steps.executors import DaskExecutor as DaskExecutor
    from .steps.executors import Executor as Executor
    from .steps.executors import RayExecutor as RayExecutor
    from .steps.outputs import Outputs as Outputs
    from .steps.outputs import StepOutputError as StepOutputError
    from .steps.pipeline import Pipeline as Pipeline
    from .steps.pipeline import pipeline as pipeline
    from .steps.step_run import StepRun as StepRun
    from .steps.ticket import RunTicket as RunTicket
    from .stores.backend import StoreBackend as StoreBackend
    from .stores.store import ArtifactStore as ArtifactStore
    from .template import PathTemplate as PathTemplate
