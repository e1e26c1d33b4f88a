"""The catalog: versions, tags, labels, metadata aspects and lineage of stored artifacts."""

from ..refs import Ref, parse_ref
from .catalog import Catalog
from .lineage import LineageGraph
from .records import Page, StepRunRecord

__all__ = ["Catalog", "LineageGraph", "Page", "Ref", "StepRunRecord", "parse_ref"]
