"""Materializers: one module per format, each a plugin registered by `register_materializers`."""

from .base import ArtifactKind, Materializer

__all__ = ["ArtifactKind", "Materializer"]
