"""A randomized oracle for "nothing lost, ever" (issue 11): run seeded sequences of operations on a
real stack, SIGKILL some of them at random points, and check the catalog and store against a
pure-Python model after every step.

Every operation runs in a forked child, so a kill is a real SIGKILL of a process in the middle of
the library's code: either at the k-th pass through an instrumented point (bytes streaming, the
manifest published, a journal record written or withdrawn, just before or after COMMIT, a file
deleted, a row restored by reindex...) or after a random delay. After a kill the catalog decides
whether the operation happened; it must be exactly one of "it happened" or "it left no trace".

The model (`Model`) is a fold over events. The live catalog is the fold of the committed events;
`reindex` replays the whole journal, so after a reindex the catalog must equal the fold of every
event in reindex semantics: deletes are tombstones, a change to a deleted artifact is skipped (a
tag on it removes that tag), and a journal record whose transaction was killed before COMMIT (a
"ghost", the one divergence docs/architecture.md admits) is applied at its place in time. A
committed artifact whose write was killed before it released its pending-write record, and whose
catalog was lost before a gc confirmed it, is "unconfirmed": the store alone cannot tell it from a
write killed before COMMIT, so reindex does not restore it (the one window docs/architecture.md
admits for writes); the oracle reads the pending-write records before it loses the catalog and
counts these.

`run_sequence(seed, ...)` returns the counts and the violations it found; the seed reproduces it.
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog
from tests.gc_support import expire_leases

ARTIFACT_OPS = {"tag", "untag", "update", "aspect", "delete"}
NAMES = ("report", "blob", "tree")
TAGS = ("prod", "best")
PROJECT = "oracle"


# ---------------------------------------------------------------- the model


@dataclass
class Art:
    id: str
    name: str
    version: int
    kind: str  # report | bytes | folder
    payload: Any  # what load() must give back (a folder: {relative path: bytes})
    labels: dict[str, str]
    description: str
    inputs: tuple[str, ...]
    aspects: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class State:
    arts: dict[str, Art] = field(default_factory=dict)
    tags: dict[tuple[str, str], str] = field(default_factory=dict)  # (name, tag) -> id
    counters: dict[str, int] = field(default_factory=dict)  # name -> highest version used

    def next_version(self, name: str) -> int:
        return self.counters.get(name, 0) + 1


def apply(state: State, event: dict[str, Any], *, replaying: bool) -> None:
    """One committed (or, when `replaying`, journaled) change, as the catalog makes it."""
    op = event["op"]
    if op == "materialize":
        art: Art = event["art"]
        state.counters[art.name] = max(state.counters.get(art.name, 0), art.version)
        if not (replaying and art.id in event["tombstoned"]):
            state.arts[art.id] = copy.deepcopy(art)
        return
    target = state.arts.get(event.get("artifact_id", ""))
    if op == "tag":
        if target is None:  # replay of a tag on a deleted artifact: the tag went with it
            state.tags.pop((event["name"], event["tag"]), None)
        else:
            state.tags[(event["name"], event["tag"])] = target.id
    elif op == "untag":
        state.tags.pop((event["name"], event["tag"]), None)
    elif op == "update" and target is not None:
        for key, value in (event["labels"] or {}).items():
            if value is None:
                target.labels.pop(key, None)
            else:
                target.labels[key] = value
        if event["description"] is not None:
            target.description = event["description"]
    elif op == "aspect" and target is not None:
        target.aspects.append((event["aspect"], event["body"]))
    elif op == "delete":
        state.arts.pop(event["artifact_id"], None)
        for key in [k for k, v in state.tags.items() if v == event["artifact_id"]]:
            del state.tags[key]


class Model:
    """Events in the order they were made; `live()` and `rebuilt()` fold them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []  # each with "real": committed, or a ghost
        self.base = State()  # the state the last reindex produced
        self.since = 0  # events after that reindex
        self.lost: set[str] = set()  # unconfirmed at a reindex: never restored again

    def add(self, event: dict[str, Any], real: bool = True) -> None:
        self.events.append({**event, "real": real})

    def live(self) -> State:
        state = copy.deepcopy(self.base)
        for event in self.events[self.since :]:
            if event["real"]:
                apply(state, event, replaying=False)
        return state

    def rebuilt(self, unconfirmed: set[str]) -> State:
        """What `reindex` makes of the whole journal and every manifest, when the writes of
        `unconfirmed` (committed, never released) still have their pending-write records."""
        tombstoned = {e["artifact_id"] for e in self.events if e["op"] == "delete"}
        dropped = (self.lost | unconfirmed) - tombstoned
        state = State()
        for event in self.events:  # manifests first, then the records in order
            if event["op"] == "materialize" and event["art"].id not in dropped:
                apply(state, {**event, "tombstoned": tombstoned}, replaying=True)
        for event in self.events:
            if event["op"] == "delete":
                art = next(
                    e["art"] for e in self.events
                    if e["op"] == "materialize" and e["art"].id == event["artifact_id"]
                )  # fmt: skip
                state.counters[art.name] = max(state.counters.get(art.name, 0), art.version)
            elif event["op"] != "materialize":
                apply(state, event, replaying=True)
        return state

    def reindexed(self, unconfirmed: set[str]) -> None:
        self.base = self.rebuilt(unconfirmed)
        self.lost |= unconfirmed
        for event in self.events:
            event["real"] = True
        self.since = len(self.events)


def surplus(state: State, keep_last: int) -> set[str]:
    """What `gc(keep_last=...)` deletes: older versions, never tagged ones, never the inputs
    (transitively) of a kept one, tagged ones included."""
    candidates = set()
    for name in {a.name for a in state.arts.values()}:
        versions = sorted(
            (a for a in state.arts.values() if a.name == name), key=lambda a: -a.version
        )
        candidates |= {a.id for a in versions[keep_last:]}
    kept = [i for i in state.arts if i not in candidates]
    tagged = sorted(set(state.tags.values()))
    frontier = kept + tagged
    protected = set(frontier)
    while frontier:
        for source in state.arts[frontier.pop()].inputs:
            if source in state.arts and source not in protected:
                protected.add(source)
                frontier.append(source)
    protected |= set(tagged)
    return candidates - protected


def dependents(state: State, ids: set[str]) -> set[str]:
    return {a.id for a in state.arts.values() if a.id not in ids and ids & set(a.inputs)}


# ---------------------------------------------------------------- reading the real catalog


def catalog_state(catalog: Catalog) -> State:
    """The catalog as the model sees it (rows, labels, descriptions, aspects, lineage, tags)."""
    from sqlalchemy import select

    from flow_artifacts.catalog import schema as t

    state = State()
    with catalog.engine.connect() as conn:
        a = t.artifacts
        for row in conn.execute(
            select(a.c.id, a.c.name, a.c.version, a.c.labels, a.c.description, a.c.step_run_id)
            .where(a.c.project == PROJECT)
        ):  # fmt: skip
            inputs = conn.execute(
                select(t.step_inputs.c.artifact_id).where(
                    t.step_inputs.c.step_run_id == row.step_run_id
                )
            ).scalars()
            state.arts[row.id] = Art(
                row.id, row.name, row.version, "", None, dict(row.labels), row.description,
                tuple(sorted(inputs)),
            )  # fmt: skip
        x = t.aspects
        for row in conn.execute(select(x.c.artifact_id, x.c.aspect, x.c.body).order_by(x.c.pk)):
            if row.artifact_id in state.arts:
                state.arts[row.artifact_id].aspects.append((row.aspect, row.body))
        for row in conn.execute(select(t.tags).where(t.tags.c.project == PROJECT)):
            state.tags[(row.name, row.tag)] = row.artifact_id
        n = t.artifact_names
        for row in conn.execute(select(n).where(n.c.project == PROJECT)):
            state.counters[row.name] = row.latest_version
    return state


def comparable(state: State) -> dict[str, Any]:
    """What must agree between model and catalog; inputs only where both ends still exist."""
    arts = {
        a.id: (
            a.name, a.version, a.labels, a.description,
            sorted(i for i in a.inputs if i in state.arts),
            [(k, json.dumps(v, sort_keys=True)) for k, v in a.aspects],
        )
        for a in state.arts.values()
    }  # fmt: skip
    return {"arts": arts, "tags": dict(state.tags), "counters": dict(state.counters)}


def differences(expected: State, actual: State) -> list[str]:
    want, got = comparable(expected), comparable(actual)
    out = []
    for id_ in sorted(set(want["arts"]) | set(got["arts"])):
        if want["arts"].get(id_) != got["arts"].get(id_):
            out.append(
                f"artifact {id_[:8]}: expected {want['arts'].get(id_)}, got {got['arts'].get(id_)}"
            )
    if want["tags"] != got["tags"]:
        out.append(f"tags: expected {want['tags']}, got {got['tags']}")
    if want["counters"] != got["counters"]:
        out.append(f"version counters: expected {want['counters']}, got {got['counters']}")
    return out


# ---------------------------------------------------------------- killing an operation


class Points:
    """Counts passes through instrumented points in a child; SIGKILLs itself at the k-th."""

    def __init__(self, kill_at: int | None) -> None:
        self.kill_at = kill_at
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        if self.kill_at is not None and self.count >= self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def install(self) -> None:
        from fsspec.implementations.local import LocalFileSystem
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        from flow_artifacts import hashing, journal, rebuild
        from flow_artifacts.catalog import catalog, journaling
        from flow_artifacts.stores import leases, store

        targets = [
            (hashing.HashingWriter, "write"), (store.ArtifactStore, "write_manifest"),
            (store.ArtifactStore, "finish_write"), (store.ArtifactStore, "delete"),
            (store.ArtifactStore, "remove_paths"), (journal.Journal, "append"),
            (journal.Journal, "withdraw"), (journaling, "write"), (catalog, "write"),
            (LocalFileSystem, "rm_file"), (leases.PendingWrite, "start"),
            (catalog.Catalog, "restore"), (rebuild, "replay"),
        ]  # fmt: skip
        for owner, attr in targets:
            setattr(owner, attr, self._wrap(getattr(owner, attr)))
        event.listen(Engine, "commit", lambda conn: self())

    def _wrap(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self()
            result = func(*args, **kwargs)
            self()
            return result

        return wrapper


@dataclass
class Outcome:
    killed: bool
    result: Any = None
    error: str | None = None
    points: int = 0


def in_child(work: Callable[[], Any], kill_at: int | None, delay: float | None) -> Outcome:
    """Run `work` in a forked child, killed at point `kill_at` or after `delay` seconds."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_end)
            points = Points(kill_at)
            points.install()
            try:
                body = {"result": work()}
            except fa.FlowArtifactsError as exc:
                body = {"error": type(exc).__name__, "message": str(exc)}
            body["points"] = points.count
            os.write(write_end, json.dumps(body, default=str).encode())
        except BaseException:
            traceback.print_exc()
            code = 3
        finally:
            os._exit(code)
    os.close(write_end)
    if delay is not None:
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL and not chunks:
        return Outcome(killed=True)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise AssertionError(f"the operation's process failed (status {status})")
    body = json.loads(b"".join(chunks))
    return Outcome(False, body.get("result"), body.get("error"), body["points"])


# ---------------------------------------------------------------- one sequence


@dataclass
class Counts:
    sequences: int = 0
    operations: int = 0
    kills: int = 0
    ghosts: int = 0
    reindexes: int = 0
    moves: int = 0
    unconfirmed: int = 0  # committed writes a reindex could not confirm (the admitted window)
    violations: list[str] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        for name in ("sequences", "operations", "kills", "ghosts", "reindexes", "moves",
                     "unconfirmed"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.violations += other.violations


class Violation(AssertionError):
    pass


StackFactory = Callable[[Path], fa.Stack]
"""Opens the stack of a project folder (the folder may have moved)."""


def local_stack(folder: Path) -> fa.Stack:
    return fa.Stack.local(folder)


class Sequence:
    def __init__(
        self,
        seed: int,
        workdir: Path,
        *,
        open_stack: StackFactory = local_stack,
        lose_catalog: Callable[[fa.Stack], None] | None = None,
        movable: bool = True,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.workdir = workdir
        self.folder = workdir / "project-0"
        self.open_stack = open_stack
        self.lose_catalog = lose_catalog or _delete_sqlite_catalog
        self.movable = movable
        self.model = Model()
        self.counts = Counts(sequences=1)
        self.points: dict[str, int] = {}  # op -> most points one run passed
        self.serial = 0
        self.stack = open_stack(self.folder)
        self.log: list[str] = []

    # -- driving

    def run(self, steps: int) -> Counts:
        ops = {
            "materialize": 30, "tag": 10, "untag": 5, "update": 8, "aspect": 6, "rm": 8,
            "rm_all": 3, "gc": 8, "reindex": 6, "move": 4 if self.movable else 0,
        }  # fmt: skip
        try:
            for _ in range(steps):
                op = self.rng.choices(list(ops), weights=list(ops.values()))[0]
                getattr(self, f"op_{op}")()
                self.counts.operations += 1
                self.check()
        except Violation as exc:
            self.counts.violations.append(
                f"seed {self.seed}: {exc}\n  after: " + "\n    ".join(self.log[-8:])
            )
        finally:
            self.stack.catalog.close()
        return self.counts

    def fail(self, message: str) -> None:
        raise Violation(message)

    def run_op(self, op: str, work: Callable[[Stack], Any]) -> Outcome:
        """`work(stack)` in a child, killed at a random point or moment a third of the time."""
        self.stack.catalog.engine.dispose()  # no pooled connection crosses the fork
        folder, open_stack = self.folder, self.open_stack
        kill_at = delay = None
        roll = self.rng.random()
        if roll < 0.25:
            kill_at = self.rng.randint(1, max(2, self.points.get(op, 20)))
        elif roll < 0.35:
            delay = self.rng.uniform(0, 0.06)
        outcome = in_child(lambda: work(open_stack(folder)), kill_at, delay)
        if outcome.killed:
            self.counts.kills += 1
            self.log.append(f"{op}: KILLED at {f'point {kill_at}' if kill_at else f'{delay:.3f}s'}")
            if self.rng.random() < 0.8:  # time passes: the dead writer's leases expire
                expire_leases(self.stack.store)
        else:
            self.points[op] = max(self.points.get(op, 0), outcome.points)
            self.log.append(f"{op}: {outcome.error or 'ok'}")
        return outcome

    # -- checks

    def check(self) -> None:
        actual = catalog_state(self.stack.catalog)
        problems = differences(self.model.live(), actual)
        if problems:
            self.fail("catalog differs from the model: " + "; ".join(problems))
        self.check_loads()

    def check_loads(self) -> None:
        for art in self.model.live().arts.values():
            try:
                loaded = fa.load(art.id, stack=self.stack)
                self.stack.store.verify(fa.get_artifact(art.id, stack=self.stack).manifest)
            except Exception as exc:  # noqa: BLE001 - any failure to load is the violation
                self.fail(f"committed artifact {art.name}@{art.version} is lost: {exc!r}")
            if art.kind == "folder":
                loaded = {
                    str(p.relative_to(loaded)): p.read_bytes()
                    for p in sorted(Path(loaded).rglob("*")) if p.is_file()
                }  # fmt: skip
            if loaded != art.payload:
                self.fail(f"{art.name}@{art.version} loads as {loaded!r}, not {art.payload!r}")

    def journal_paths(self) -> set[str]:
        records, _ = self.stack.store.journal.read()
        return {r.path for r in records}

    def new_records(self, before: set[str]) -> list[Any]:
        records, _ = self.stack.store.journal.read()
        return [r for r in records if r.path not in before and r.op in ARTIFACT_OPS]

    def settle(self, op: str, outcome: Outcome, before: set[str], event: dict[str, Any]) -> None:
        """A single-change operation: record it, or after a kill decide whether it happened."""
        live = self.model.live()
        if not outcome.killed:
            self.model.add(event)
            return
        happened = copy.deepcopy(live)
        apply(happened, event, replaying=False)
        actual = comparable(catalog_state(self.stack.catalog))
        if actual == comparable(happened) and actual != comparable(live):
            self.model.add(event)
        elif actual == comparable(live):
            for record in self.new_records(before):  # journaled, killed before COMMIT
                self.model.add({"op": record.op, **record.fields}, real=False)
                self.counts.ghosts += 1
        else:
            self.fail(f"a killed {op} left the catalog neither before nor after it")

    # -- operations

    def pick(self, state: State) -> Art | None:
        arts = sorted(state.arts.values(), key=lambda a: (a.name, a.version))
        return self.rng.choice(arts) if arts else None

    def op_materialize(self) -> None:
        state = self.model.live()
        self.serial += 1
        name = self.rng.choice(NAMES)
        kind = {"report": "report", "blob": "bytes", "tree": "folder"}[name]
        run_id = f"r{self.serial}"
        labels = {"n": str(self.serial)} if self.rng.random() < 0.5 else {}
        live = sorted(state.arts)
        inputs = self.rng.sample(live, k=min(len(live), self.rng.randint(0, 2)))
        if kind == "report":
            payload: Any = {"serial": self.serial, "values": list(range(self.serial % 7))}
        elif kind == "bytes":
            payload = bytes([self.serial % 256]) * self.rng.choice((10, 70_000))
        else:
            payload = {
                "a.txt": f"file {self.serial}".encode(),
                ".tmp-partial": b"named like a temporary",
                "sub/x.artifact.json": b"named like a manifest",
            }
        source = self.workdir / f"upload-{self.serial}"
        if kind == "folder":
            for rel, data in payload.items():
                (source / rel).parent.mkdir(parents=True, exist_ok=True)
                (source / rel).write_bytes(data)

        def work(stack: fa.Stack) -> Any:
            options = dict(inputs=inputs, labels=labels, description=f"d{self.serial}", stack=stack)
            if kind == "folder":
                art = fa.upload_file(source, name, PROJECT, run_id=run_id, **options)
            else:
                art = fa.materialize(payload, name, run_id, "make", PROJECT, **options)
            return [art.id, art.version]

        outcome = self.run_op("materialize", work)
        if outcome.error:
            self.fail(f"materialize failed: {outcome.error}")
        if outcome.killed:
            rows = [
                m for m in self.stack.catalog.iter_artifacts(project=PROJECT, name=name)
                if m.run_id == run_id
            ]  # fmt: skip
            if not rows:
                return  # it left no row: what it wrote is a dead write's, for gc
            outcome.result = [rows[0].id, rows[0].version]
        art_id, version = outcome.result
        if version != state.next_version(name):
            self.fail(f"{name} got version {version}, expected {state.next_version(name)}")
        art = Art(art_id, name, version, kind, payload, labels, f"d{self.serial}", tuple(inputs))
        self.model.add({"op": "materialize", "art": art})

    def op_tag(self) -> None:
        art = self.pick(self.model.live())
        if art is None:
            return
        tag = self.rng.choice(TAGS)
        before = self.journal_paths()
        outcome = self.run_op("tag", lambda stack: fa.tag(art.id, tag, stack=stack) and None)
        if outcome.error:
            self.fail(f"tag failed: {outcome.error}")
        event = {"op": "tag", "artifact_id": art.id, "name": art.name, "tag": tag}
        self.settle("tag", outcome, before, event)

    def op_untag(self) -> None:
        state = self.model.live()
        if not state.tags:
            return
        name, tag = self.rng.choice(sorted(state.tags))
        target = state.tags[(name, tag)]
        before = self.journal_paths()
        outcome = self.run_op("untag", lambda stack: fa.untag(target, tag, stack=stack))
        if outcome.error:
            self.fail(f"untag failed: {outcome.error}")
        self.settle("untag", outcome, before, {"op": "untag", "name": name, "tag": tag})

    def op_update(self) -> None:
        art = self.pick(self.model.live())
        if art is None:
            return
        labels: dict[str, str | None] | None = self.rng.choice(
            [None, {"stage": f"s{self.serial}"}, {"n": None}, {"n": None, "team": "risk"}]
        )
        description = self.rng.choice([None, f"edited {self.serial}"])
        if labels is None and description is None:
            description = ""
        before = self.journal_paths()

        def work(stack: fa.Stack) -> None:
            fa.update(art.id, labels=labels, description=description, stack=stack)

        outcome = self.run_op("update", work)
        if outcome.error:
            self.fail(f"update failed: {outcome.error}")
        event = {
            "op": "update",
            "artifact_id": art.id,
            "labels": labels,
            "description": description,
        }
        self.settle("update", outcome, before, event)

    def op_aspect(self) -> None:
        art = self.pick(self.model.live())
        if art is None:
            return
        aspect = self.rng.choice(("quality", "owner"))
        body = {"rows": self.rng.randint(0, 99)}
        before = self.journal_paths()
        outcome = self.run_op(
            "aspect", lambda stack: fa.add_metadata(art.id, aspect, body, stack=stack) and None
        )
        if outcome.error:
            self.fail(f"add_metadata failed: {outcome.error}")
        event = {"op": "aspect", "artifact_id": art.id, "aspect": aspect, "body": body}
        self.settle("aspect", outcome, before, event)

    def op_rm(self) -> None:
        art = self.pick(self.model.live())
        if art is not None:
            self.delete([art.id], lambda stack: fa.delete(art.id, stack=stack))

    def op_rm_all(self) -> None:
        state = self.model.live()
        names = sorted({a.name for a in state.arts.values()})
        if names:
            name = self.rng.choice(names)
            ids = [a.id for a in state.arts.values() if a.name == name]
            self.delete(ids, lambda stack: fa.delete(name, PROJECT, all_versions=True, stack=stack))

    def delete(self, ids: list[str], work: Callable[[fa.Stack], Any]) -> None:
        state = self.model.live()
        refused = bool(dependents(state, set(ids)))
        before = self.journal_paths()
        outcome = self.run_op("rm", lambda stack: work(stack) and None)
        if not outcome.killed:
            expected = "ArtifactInUse" if refused else None
            if outcome.error != expected:
                self.fail(f"rm of {len(ids)} version(s) gave {outcome.error}, expected {expected}")
            if not refused:
                for id_ in ids:
                    self.model.add({"op": "delete", "artifact_id": id_})
            return
        self.settle_deletes(set(ids) if not refused else set(), before, "rm")

    def settle_deletes(self, allowed: set[str], before: set[str], op: str) -> None:
        """After a killed rm or gc: each delete of `allowed` happened or left a ghost, no other."""
        live = self.model.live()
        actual = catalog_state(self.stack.catalog)
        gone = set(live.arts) - set(actual.arts)
        if not gone <= allowed:
            self.fail(f"a killed {op} deleted {sorted(gone - allowed)}, which it must not")
        for id_ in sorted(gone):
            self.model.add({"op": "delete", "artifact_id": id_})
        for record in self.new_records(before):
            if record.op == "delete" and record.fields["artifact_id"] not in gone:
                self.model.add({"op": "delete", **record.fields}, real=False)
                self.counts.ghosts += 1

    def op_gc(self) -> None:
        keep_last = self.rng.choice([None, None, 1, 2])
        state = self.model.live()
        doomed = surplus(state, keep_last) if keep_last else set()
        before = self.journal_paths()

        def work(stack: fa.Stack) -> Any:
            from flow_artifacts.maintenance import gc

            report = gc(keep_last=keep_last, stack=stack)
            return sorted(m.id for m in report.surplus)

        outcome = self.run_op("gc", work)
        if outcome.killed:
            self.settle_deletes(doomed, before, "gc")
            return
        if outcome.error:
            self.fail(f"gc(keep_last={keep_last}) failed: {outcome.error}")
        if set(outcome.result) != doomed:
            self.fail(
                f"gc(keep_last={keep_last}) deleted {outcome.result}, expected {sorted(doomed)}"
            )
        for id_ in sorted(doomed):
            self.model.add({"op": "delete", "artifact_id": id_})

    def parent_gc(self) -> None:
        """gc in this process: it must neither refuse nor fail."""
        from flow_artifacts.maintenance import gc

        try:
            gc(stack=self.stack)
        except fa.FlowArtifactsError as exc:
            self.fail(f"gc failed: {exc!r}")

    def op_reindex(self) -> None:
        """Lose the catalog, rebuild it from the store (perhaps killed once, then again)."""
        self.counts.reindexes += 1
        live = self.model.live().arts
        writes, _ = self.stack.store.writes()
        unconfirmed = {w.artifact_id for w in writes.values() if w.artifact_id in live}
        self.counts.unconfirmed += len(unconfirmed)
        if unconfirmed:
            self.log.append(f"unconfirmed at reindex: {sorted(unconfirmed)}")
        self.stack.catalog.close()
        self.lose_catalog(self.stack)
        self.stack = self.open_stack(self.folder)
        outcome = self.run_op("reindex", lambda stack: fa.reindex(stack=stack).skipped)
        if outcome.killed:  # the user runs it again
            outcome = in_child(
                lambda: fa.reindex(stack=self.open_stack(self.folder)).skipped, None, None
            )
        if outcome.error:
            self.fail(f"reindex failed: {outcome.error}")
        for path, reason in outcome.result:
            unconfirmed_write = reason.startswith("not restored: its write")
            torn = path.startswith(".flow-artifacts/journal/") and "not valid JSON" in reason
            if not (unconfirmed_write or torn):  # torn: a record killed while written
                self.fail(f"reindex skipped {path}: {reason}")
        expected = self.model.rebuilt(unconfirmed)
        problems = differences(expected, catalog_state(self.stack.catalog))
        if problems:
            self.fail("the rebuilt catalog differs from the model: " + "; ".join(problems))
        self.model.reindexed(unconfirmed)

    def op_move(self) -> None:
        """Move the whole project folder and reopen: everything loads, gc removes nothing owned."""
        self.counts.moves += 1
        self.stack.catalog.close()
        target = self.workdir / f"project-{self.counts.moves}"
        shutil.move(str(self.folder), str(target))
        self.folder = target
        self.stack = self.open_stack(self.folder)
        self.check_loads()

        self.parent_gc()


Stack = fa.Stack


def _delete_sqlite_catalog(stack: fa.Stack) -> None:
    database = Path(stack.catalog.engine.url.database)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def run_sequence(seed: int, workdir: Path, steps: int, **options: Any) -> Counts:
    workdir.mkdir(parents=True, exist_ok=True)
    return Sequence(seed, workdir, **options).run(steps)
