"""`MaintenanceMethods`: what gc and retention ask the `Catalog` façade (see `inventory`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection

from ..manifest import Manifest
from . import inventory

T = TypeVar("T")


class MaintenanceMethods:
    """Ownership of store files and the versions retention may drop. Mixed into `Catalog`."""

    if TYPE_CHECKING:  # what `Catalog` provides, through the engine it alone holds

        def _read(self) -> Connection: ...

        def _write(self, work: Callable[[Connection], T], what: str = ...) -> T: ...

    def owned_files(self, store_id: str) -> set[str]:
        """Every store-relative file a row of the store `store_id` owns (see `inventory`)."""
        with self._read() as conn:
            return inventory.owned_files(conn, store_id)

    def legacy_rows(self) -> list[tuple[str, str]]:
        """(id, key) of rows written before store ids, which no store has adopted yet."""
        with self._read() as conn:
            return inventory.legacy_rows(conn)

    def adopt_rows(self, ids: Iterable[str], store_id: str) -> None:
        """Give rows from before store ids the id of the store where their manifest was found."""
        chosen = list(ids)
        self._write(lambda conn: inventory.adopt_rows(conn, chosen, store_id))

    def tagged_ids(self) -> set[str]:
        with self._read() as conn:
            return inventory.tagged_ids(conn)

    def surplus_versions(self, keep_last: int, project: str | None = None) -> list[Manifest]:
        """Versions older than the newest `keep_last` of each name."""
        with self._read() as conn:
            return inventory.surplus_versions(conn, keep_last, project)

    def upstream_closure(self, ids: Iterable[str]) -> set[str]:
        """Every artifact any of `ids` was produced from, at any depth (not `ids` themselves)."""
        with self._read() as conn:
            return inventory.upstream_closure(conn, ids)
