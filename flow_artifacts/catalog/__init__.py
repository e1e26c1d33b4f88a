"""The catalog: versions, tags, labels, metadata aspects and lineage of stored artifacts.

Its names are imported on first use: the catalog brings SQLAlchemy, which `import flow_artifacts`
and the public API names must not pay for until a catalog is opened.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..refs import Ref, parse_ref
    from .catalog import Catalog
    from .lineage import LineageGraph
    from .records import Page, RunRecord, StepRunRecord
    from .search import Search

_WHERE = {
    "Catalog": ".catalog",
    "LineageGraph": ".lineage",
    "Page": ".records",
    "Ref": "..refs",
    "RunRecord": ".records",
    "Search": ".search",
    "StepRunRecord": ".records",
    "parse_ref": "..refs",
}

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


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value
