"""The catalog: versions, tags, labels, metadata aspects and lineage of stored artifacts."""

from ..refs import Ref, parse_ref
from .catalog import Catalog
from .lineage import LineageGraph
from .listing import Search
from .records import Page, RunRecord, StepRunRecord

__all__ = [
    "Catalog",
    "LineageGraph",
    "Page",
    "Ref",
    "RunRecord",
    "Search",
    "StepRunRecord",
    "parse_ref",
]
