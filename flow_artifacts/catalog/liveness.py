"""Whether an open run still has a writer: host, process id and a heartbeat the writer renews.

A run or step run records the host and process that opened it and a heartbeat time. While any is
open, one daemon thread per catalog renews their heartbeats every `HEARTBEAT_S`, so a step call
pays only a set insertion. A reader reports a `running` row as `crashed` when its heartbeat is
older than `STALE_AFTER` (the writer is gone, wherever it ran), or at once when it was written on
this host by a process that no longer exists (SIGKILL, the OOM killer). The status is judged when
read, never written: a writer that was only slow still records its real end. An in-memory SQLite
catalog lives and dies with its one process, so nothing there beats and nothing goes stale.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, update
from sqlalchemy.engine import URL

from . import schema as t

log = logging.getLogger("flow_artifacts.catalog")
RUNNING = "running"
CRASHED = "crashed"
HEARTBEAT_S = 15.0
STALE_AFTER = timedelta(seconds=8 * HEARTBEAT_S)
"""Generous: a writer busy in a long C call or behind a slow database still gets its beat in."""
HOST = socket.gethostname()[:200]


def writer_fields() -> dict[str, Any]:
    """What a row opened now by this process records about its writer."""
    return {"host": HOST, "pid": os.getpid(), "heartbeat": datetime.now(timezone.utc)}


def renews_heartbeats(url: URL) -> bool:
    """Whether open runs in the catalog at `url` renew their heartbeat: all but in-memory SQLite,
    which dies with its process and which no other process can read."""
    return url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:")


def observed_status(row: Any, renews: bool, at: datetime | None = None) -> str:
    """The status to report for a run or step-run row (read by attribute, as SQLAlchemy returns
    it) of a catalog that `renews` heartbeats or not: its own, or `crashed` when its writer is
    gone."""
    if row.status != RUNNING:
        return row.status
    beat = row.heartbeat or row.started
    if renews and (at or datetime.now(timezone.utc)) - beat > STALE_AFTER:
        return CRASHED
    if row.host == HOST and row.pid is not None and not process_alive(row.pid):
        return CRASHED
    return row.status


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host; True when that cannot be told."""
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate it there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: gone all the same
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


Writer = Callable[[Callable[[Connection], None], str], None]
"""Runs a write transaction on the catalog (its `database.write`), named for errors."""


class Heartbeat:
    """Renews the heartbeats of the runs and step runs this process has open in one catalog,
    through `write` (the catalog's, which alone holds the engine), when the catalog `renews`
    them at all."""

    def __init__(self, write: Writer, renews: bool) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._runs: set[int] = set()
        self._step_runs: set[str] = set()
        self._stop: threading.Event | None = None
        self._needed = renews
        self._pid = os.getpid()
        """The process whose thread `_stop` stops: a forked child inherits no thread."""

    def open(self, *, run_pk: int | None = None, step_run_id: str | None = None) -> None:
        if not self._needed:
            return
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's thread and runs are not ours
                self._pid, self._stop = os.getpid(), None
                self._runs.clear()
                self._step_runs.clear()
            if run_pk is not None:
                self._runs.add(run_pk)
            if step_run_id is not None:
                self._step_runs.add(step_run_id)
            if self._stop is None:
                self._stop = threading.Event()
                threading.Thread(
                    target=self._beat,
                    args=(self._stop,),
                    name="flow-artifacts-heartbeat",
                    daemon=True,
                ).start()

    def close(self, *, run_pk: int | None = None, step_run_id: str | None = None) -> None:
        """Stop renewing these. The thread ends at its next beat if nothing is open by then: a
        process running many short runs one after another keeps one thread, not one per run."""
        with self._lock:
            self._runs.discard(run_pk)
            self._step_runs.discard(step_run_id)

    def stop(self) -> None:
        """Stop renewing (the catalog is closing): what is still open goes stale, as it should,
        since nothing here will finish it."""
        with self._lock:
            self._runs.clear()
            self._step_runs.clear()
            if self._stop is not None:
                self._stop.set()
                self._stop = None

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_S):
            with self._lock:
                runs, step_runs = sorted(self._runs), sorted(self._step_runs)
                if not runs and not step_runs:  # idle for a whole beat: the next open starts one
                    if self._stop is stop:
                        self._stop = None
                    return
            try:
                self._write(functools.partial(_renew, runs=runs, step_runs=step_runs), "heartbeat")
            except Exception as exc:  # the next beat tries again; the run itself goes on
                log.warning("could not renew the heartbeat of open runs: %s", exc)


def _renew(conn: Connection, runs: list[int], step_runs: list[str]) -> None:
    beat = datetime.now(timezone.utc)
    if runs:
        conn.execute(update(t.runs).where(t.runs.c.pk.in_(runs)).values(heartbeat=beat))
    if step_runs:
        conn.execute(
            update(t.step_runs).where(t.step_runs.c.id.in_(step_runs)).values(heartbeat=beat)
        )
