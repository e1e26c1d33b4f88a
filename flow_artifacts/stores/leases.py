"""Pending writes: recorded in the store before their first byte, kept alive by a renewed lease.

A write's record (`.flow-artifacts/writes/<id>.json`) names the key, data path and artifact id it
writes; a batch's one record names every artifact of the batch (`targets`: the first at the top,
as single writes' records are, the others under `more`). While the writer lives, the process's
one lease-keeper thread renews it. The write is provably dead when its record is gone (the write
ended) or its lease expired (the writer stopped renewing: killed, or cut off from the store). Only
then may `gc` remove what it made; no age of a file decides that.

Why not one record per process, renewed for all its writes? The record does two jobs that need a
store write per artifact before its bytes and manifest appear: it tells gc which final paths a
live writer may be filling (a record naming them only at its next renewal would leave bytes gc
can neither protect nor prove garbage), and it tells `reindex` which manifests are unconfirmed
(a manifest is published inside the catalog transaction, before COMMIT). A batch names all its
artifacts up front, so it pays that write once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import posixpath
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from ..errors import ConfigError, StoreError
from ..manifest import MANIFEST_SUFFIX
from ..moments import parse_moment
from .lease_keeper import keeper
from .paths import RESERVED, TEMPS, WRITES, files_only, is_local, rel_to
from .transfer import read_record
from .unnamed import create_whole

DEFAULT_LEASE_SECONDS = 60.0
"""How long a write stays alive without renewal; renewed every quarter of it."""


class Target(NamedTuple):
    """One artifact a pending write may make: its key (so its manifest), its data path, and its
    id (None for a delete's lease, and older records)."""

    key: str
    data_path: str
    artifact_id: str | None = None


@dataclass(frozen=True)
class WriteRecord:
    """What a pending write records about itself, as read back from the store."""

    id: str
    key: str
    data_path: str
    renewed: datetime
    lease_seconds: float
    host: str
    pid: int
    artifact_id: str | None = None
    """The artifact this write publishes (None for a delete's lease, and older records)."""
    more: tuple[Target, ...] = ()
    """The other artifacts of a batch written under this one record (`materialize_many`)."""

    @property
    def targets(self) -> tuple[Target, ...]:
        """Every artifact this write may make."""
        return (Target(self.key, self.data_path, self.artifact_id), *self.more)

    @property
    def temp(self) -> str:
        """Its folder of temporaries, store-relative (used where the store can rename)."""
        return f"{TEMPS}/{self.id}"

    @property
    def record(self) -> str:
        return f"{WRITES}/{self.id}.json"

    def expired(self, now: datetime) -> bool:
        return now >= self.renewed + timedelta(seconds=self.lease_seconds)

    def covers(self, rel: str) -> bool:
        """Whether the store-relative file `rel` is one this write may have made."""
        return (
            any(
                rel == target.key + MANIFEST_SUFFIX or _at_or_under(rel, target.data_path)
                for target in self.targets
            )
            or _at_or_under(rel, self.temp)
            or rel.startswith(f"{self.temp}-")
        )

    def to_json(self) -> bytes:
        """The first target's fields at the top (as records of single writes have always been
        written), the batch's others under `more`."""
        doc: dict[str, Any] = {
            "id": self.id,
            "key": self.key,
            "data_path": self.data_path,
            "renewed": self.renewed.isoformat(),
            "lease_seconds": self.lease_seconds,
            "host": self.host,
            "pid": self.pid,
            "artifact_id": self.artifact_id,
        }
        if self.more:
            doc["more"] = [target._asdict() for target in self.more]
        return json.dumps(doc).encode()

    @classmethod
    def from_json(cls, body: bytes, id: str) -> WriteRecord:
        """A record read from the store, validated: raises ValueError if it is not one."""
        doc = json.loads(body)
        if not isinstance(doc, Mapping) or doc.get("id") != id:
            raise ValueError("not the record of this write")
        first = _target(doc)
        more = doc.get("more", [])
        if not isinstance(more, list) or not all(isinstance(t, Mapping) for t in more):
            raise ValueError("bad list of more targets")
        lease = doc.get("lease_seconds")
        if not isinstance(lease, (int, float)) or isinstance(lease, bool) or not lease > 0:
            raise ValueError(f"bad lease {lease!r}")
        pid = doc.get("pid")
        return cls(
            id=id, key=first.key, data_path=first.data_path,
            renewed=parse_moment(str(doc.get("renewed"))), lease_seconds=float(lease),
            host=str(doc.get("host", "")), pid=pid if isinstance(pid, int) else 0,
            artifact_id=first.artifact_id, more=tuple(_target(t) for t in more),
        )  # fmt: skip


def _target(doc: Mapping[str, Any]) -> Target:
    """A target read from a record, validated: the data path is its key's (plus an extension),
    neither reaches outside the artifact space."""
    key, data_path = doc.get("key"), doc.get("data_path")
    for path in (key, data_path):
        if not isinstance(path, str) or not path or path.startswith(("/", RESERVED)):
            raise ValueError(f"bad path {path!r:.80}")
    key, data_path = str(key), str(data_path)  # both checked above
    extension = data_path[len(key) :]
    if not data_path.startswith(key) or "/" in extension or extension[:1] not in ("", "."):
        raise ValueError(f"data path {data_path!r:.80} is not of key {key!r:.80}")
    artifact_id = doc.get("artifact_id")
    if artifact_id is not None and not isinstance(artifact_id, str):
        raise ValueError(f"bad artifact id {artifact_id!r:.40}")
    return Target(key, data_path, artifact_id)


def read_writes(fs: Any, root: str) -> tuple[dict[str, WriteRecord], list[str]]:
    """The pending writes recorded in the store, and the records that could not be read."""
    base = f"{root}/{WRITES}"
    try:
        paths = sorted(files_only(fs.find(base, detail=True)))
    except FileNotFoundError:
        return {}, []
    found, unreadable = {}, []
    for path in paths:
        rel = rel_to(fs._strip_protocol(path), root)
        name = posixpath.basename(rel)
        write_id = name[: -len(".json")] if name.endswith(".json") else ""
        try:
            found[write_id] = WriteRecord.from_json(read_record(fs, path), write_id)
        except FileNotFoundError:
            continue  # the write ended while we listed
        except Exception:
            unreadable.append(rel)
    return found, unreadable


class PendingWrite:
    """One write in flight: its record is put before the first byte and renewed until `end`.

    A writer that cannot renew for half its lease counts itself as cut off (`check` raises), so it
    never publishes after `gc` may have judged it dead.

    A batch (`materialize_many`) writes all its artifacts under one record that names every one
    of them (`targets`) before the first byte of any: one record to put and one to remove for the
    whole batch, and what it covers is exactly the union of what one record per artifact would
    cover. A target added later (a key found taken sends its artifact to `<key>.v<N>`) is
    recorded (`claim`) before that artifact's first byte.
    """

    def __init__(
        self,
        fs: Any,
        root: str,
        key: str,
        data_path: str,
        lease_seconds: float,
        artifact_id: str | None = None,
    ) -> None:
        if not lease_seconds > 0:
            raise ConfigError(f"lease_seconds must be positive, got {lease_seconds}")
        self.fs, self.root = fs, root
        self._local = is_local(fs)
        self.id = uuid.uuid4().hex
        self.targets: dict[Target, None] = {Target(key, data_path, artifact_id): None}
        """What the record names, in order: every artifact this write may make (a dict, so a
        batch of thousands looks one up at once)."""
        self.lease_seconds = float(lease_seconds)
        self.holders = 0
        """For a batch's shared write: the writes of the batch (and the batch itself) that have
        not ended yet; the record goes when the last one ends (see `StoreWrites`)."""
        self.releasable = True
        """For a batch's shared write: whether every write of it that ended could release."""
        self.leftovers = False
        """Set when a failed write could not remove all it made: its record must then expire."""
        self.published: set[str] = set()
        """Ids of the artifacts whose manifest this write has published (not yet committed)."""
        self._lock = threading.Lock()
        """Held while the record is put, so that `end` never races a renewal."""
        self._ended = False
        self._renewed_at = (0.0, 0.0)
        """(monotonic, wall-clock) time of the last renewal sent: monotonic time stands still
        while a machine sleeps, the wall clock may be set back; either may show a lapse."""
        self.temps: dict[str, None] = {}
        """The temporaries handed out (`temp_file`, `temp_folder`) and not yet moved into place,
        in order: removed when the write ends."""
        self._recorded = False
        self._handed = 0

    @property
    def temp(self) -> str:
        """Absolute folder for this write's temporary trees (a folder artifact's files)."""
        return f"{self.root}/{TEMPS}/{self.id}"

    def temp_file(self, name: str) -> str:
        """Absolute path of a temporary file of this write, in the shared temporaries folder.

        Named `<write id>-<name>` (never after the user's name), so gc attributes it to its
        write, and a file write needs no folder of its own to create and remove; the writes of
        a batch get `<write id>-<n>-<name>`.
        """
        self._handed += 1
        path = f"{self.temp}-{name}" if self._handed == 1 else f"{self.temp}-{self._handed}-{name}"
        self.temps[path] = None
        return path

    def temp_folder(self) -> str:
        """A folder for a folder artifact's files (`temp`; `<temp>-<n>` for the writes of a
        batch after the first): removed when the write ends."""
        self._handed += 1
        path = self.temp if self._handed == 1 else f"{self.temp}-{self._handed}"
        self.temps[path] = None
        return path

    def claim(self, target: Target, replacing: Target | None = None) -> None:
        """Record `target` (if the record does not name it yet) before its first byte, in place
        of `replacing` (a target this write made nothing at)."""
        if target in self.targets and replacing is None:
            return
        with self._lock:
            if self._ended:
                raise StoreError(f"the write of {target.key!r} already ended")
            if self._recorded and self._cut_off():  # putting the record would revive it
                raise self._lost(target.key)
            if replacing is not None:
                self.targets.pop(replacing, None)
            self.targets.pop(target, None)  # claimed again: moves to the end, as it always did
            self.targets[target] = None
            if self._recorded:
                self._put()

    def moved(self, temp: str) -> None:
        """`temp` was moved into place: nothing is left there to remove."""
        self.temps.pop(temp, None)

    def start(self) -> None:
        """Record the write (raising if the store refuses), then keep renewing it."""
        self._put()
        keeper().add(self)

    def check(self, key: str | None = None) -> None:
        """Raise if the lease may have lapsed: the write (of `key`, for a batch's) must not
        publish anything more."""
        if self._cut_off():
            raise self._lost(key or next(iter(self.targets)).key)

    def _lost(self, key: str) -> StoreError:
        return StoreError(
            f"writing artifact {key!r} lost its lease (the store could not be reached "
            f"for {self.lease_seconds / 2:g}s), so gc may treat it as dead; write it again"
        )

    def end(self, *, release: bool) -> None:
        """Stop renewing. With `release`, remove the record: what the write made is settled
        (committed, or removed). Without, the record expires and gc collects the leftovers."""
        with self._lock:  # waits for a renewal in progress; none comes after
            self._ended = True
        keeper().discard(self)
        if release:
            with contextlib.suppress(Exception):
                path = f"{self.root}/{WRITES}/{self.id}.json"
                if self._local:
                    os.unlink(path)
                else:
                    self.fs.rm_file(path)

    def renew(self) -> bool:
        """Put the record again, unless the write ended or was cut off (renewing then could
        revive a write gc already judged dead). False once it must not be renewed again."""
        with self._lock:
            if self._ended or self._cut_off():
                return False
            with contextlib.suppress(Exception):
                self._put()
            return True

    def _cut_off(self) -> bool:
        """Whether half the lease passed since the last renewal, by either clock."""
        monotonic, wall = self._renewed_at
        elapsed = max(time.monotonic() - monotonic, time.time() - wall)
        return elapsed > self.lease_seconds / 2

    def _put(self) -> None:
        started = (time.monotonic(), time.time())
        first, *more = self.targets
        record = WriteRecord(
            id=self.id, key=first.key, data_path=first.data_path,
            renewed=datetime.now(timezone.utc), lease_seconds=self.lease_seconds,
            host=_host(), pid=os.getpid(), artifact_id=first.artifact_id, more=tuple(more),
        )  # fmt: skip
        path = f"{self.root}/{WRITES}/{self.id}.json"
        if self._local:
            self._put_local(path, record.to_json())
        else:
            self.fs.pipe_file(path, record.to_json())
        self._recorded = True
        self._renewed_at = started

    def _put_local(self, path: str, body: bytes) -> None:
        """The record, whole: the first one linked into place unnamed where the system can
        (`stores/unnamed.py`), a renewal written at a temporary and renamed over it."""
        for attempt in range(2):
            try:
                if not self._recorded and create_whole(path, body):
                    return
                temp = f"{self.temp}-record.part"
                with open(temp, "wb") as f:
                    f.write(body)
                os.replace(temp, path)
                return
            except FileNotFoundError:  # the store's first write
                if attempt:
                    raise
                os.makedirs(posixpath.dirname(path), exist_ok=True)
                os.makedirs(posixpath.dirname(self.temp), exist_ok=True)


@functools.cache
def _host() -> str:
    """This machine's name, asked once: records name it for people, nothing decides by it."""
    return socket.gethostname()


def _at_or_under(rel: str, path: str) -> bool:
    return rel == path or rel.startswith(path + "/")
