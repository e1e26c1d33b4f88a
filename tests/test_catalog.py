"""The catalog on SQLite and on a real PostgreSQL server: versions, refs, tags, listing, delete."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import flow_artifacts as fa
from flow_artifacts.catalog import Catalog, parse_ref, schema


def test_versions_count_up_per_project_and_name(stack):
    a1 = fa.materialize({"v": 1}, "clean", "r1", "prep", "demo", stack=stack)
    a2 = fa.materialize({"v": 2}, "clean", "r2", "prep", "demo", stack=stack)
    other = fa.materialize({"v": 1}, "clean", "r1", "prep", "elsewhere", stack=stack)
    assert (a1.version, a2.version, other.version) == (1, 2, 1)
    assert a2.uri == "store://demo/clean@2"
    assert a2.urn == f"urn:flow-artifacts:artifact:{a2.id}"
    assert a2.status == "committed"


def test_every_reference_form_resolves(stack):
    a1 = fa.materialize({"v": 1}, "clean", "r1", "prep", "demo", stack=stack)
    a2 = fa.materialize({"v": 2}, "clean", "r2", "prep", "demo", stack=stack)
    assert fa.get_artifact("store://demo/clean", stack=stack) == a2
    assert fa.get_artifact("store://demo/clean@1", stack=stack) == a1
    assert fa.get_artifact(a2.urn, stack=stack) == fa.get_artifact(a2.id, stack=stack) == a2
    assert fa.get_artifact(a1.key, stack=stack) == a1  # a store path
    assert fa.load("store://demo/clean@1", stack=stack) == {"v": 1}


def test_tags_resolve_and_move_between_versions(stack):
    a1 = fa.materialize({"v": 1}, "clean", "r1", "prep", "demo", stack=stack)
    a2 = fa.materialize({"v": 2}, "clean", "r2", "prep", "demo", stack=stack)
    fa.tag(a1, "prod", stack=stack)
    assert fa.get_artifact("store://demo/clean:prod", stack=stack) == a1
    a2.tag("prod")
    assert fa.get_artifact("store://demo/clean:prod", stack=stack) == a2
    assert a2.tags == ["prod"] and a1.tags == []
    fa.untag(a2, "prod", stack=stack)
    with pytest.raises(fa.ArtifactNotFound, match="clean:prod"):
        fa.get_artifact("store://demo/clean:prod", stack=stack)
    with pytest.raises(fa.InvalidName, match="version number"):
        a1.tag("42")


@pytest.mark.parametrize(
    "ref", ["store://demo", "store://demo/clean@0", "store://demo/clean@x", "not-a-ref", "urn:x"]
)
def test_malformed_references_are_refused_clearly(stack, ref):
    with pytest.raises(fa.InvalidName):
        parse_ref(ref)
    with pytest.raises(fa.FlowArtifactsError):
        fa.get_artifact(ref, stack=stack)


def test_missing_references_raise_not_found(stack):
    fa.materialize({"v": 1}, "clean", "r1", "prep", "demo", stack=stack)
    for ref in (
        "store://demo/clean@9",
        "store://demo/nothing",
        "store://demo/clean:nope",
        "urn:flow-artifacts:artifact:00000000-0000-0000-0000-000000000000",
    ):
        with pytest.raises(fa.ArtifactNotFound):
            fa.get_artifact(ref, stack=stack)


def test_listing_filters_and_pages_lazily(stack):
    for i in range(7):
        fa.materialize(
            {"i": i},
            f"report{i % 2}",
            f"r{i}",
            "s",
            "demo",
            stack=stack,
            labels={"team": "risk" if i < 3 else "ops"},
        )
    fa.materialize(pd.DataFrame({"a": [1]}), "table", "r0", "s", "demo", stack=stack)
    fa.materialize({"x": 1}, "report0", "r0", "s", "other", stack=stack)

    everything = list(fa.list_artifacts("demo", page_size=2, stack=stack))
    assert len(everything) == 8 and len({a.id for a in everything}) == 8
    assert [a.created for a in everything] == sorted((a.created for a in everything), reverse=True)
    assert {a.name for a in fa.list_artifacts("demo", name="report1", stack=stack)} == {"report1"}
    assert [a.name for a in fa.list_artifacts("demo", kind="dataset", stack=stack)] == ["table"]
    assert len(list(fa.list_artifacts("demo", labels={"team": "risk"}, stack=stack))) == 3
    assert len(list(fa.list_artifacts(stack=stack))) == 9

    first = fa.list_page("demo", page_size=5, stack=stack)
    second = fa.list_page("demo", page_size=5, cursor=first.next_cursor, stack=stack)
    assert len(first.items) == 5 and len(second.items) == 3 and second.next_cursor is None
    assert not {a.id for a in first.items} & {a.id for a in second.items}
    with pytest.raises(fa.InvalidName, match="cursor"):
        fa.list_page("demo", cursor="garbage!", stack=stack)


def test_listing_by_time_range(stack):
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    art = fa.materialize({"v": 1}, "clean", "r1", "prep", "demo", stack=stack)
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    assert [a.id for a in fa.list_artifacts(since=before, until=after, stack=stack)] == [art.id]
    assert list(fa.list_artifacts(since=after, stack=stack)) == []
    assert list(fa.list_artifacts(until=before, stack=stack)) == []


def test_describe_pages_through_versions_with_tags(stack):
    arts = [fa.materialize({"v": i}, "m", f"r{i}", "s", "demo", stack=stack) for i in range(5)]
    fa.tag(arts[1], "prod", stack=stack)
    first = fa.describe(arts[-1], page_size=2, stack=stack)
    assert [v.version for v in first.versions.items] == [5, 4]
    rest = fa.describe(arts[-1], page_size=3, cursor=first.versions.next_cursor, stack=stack)
    assert [v.version for v in rest.versions.items] == [3, 2, 1]
    assert first.tags == {"prod": 2}


def test_update_merges_labels_and_sets_description(stack):
    art = fa.materialize(
        {"v": 1},
        "clean",
        "r1",
        "prep",
        "demo",
        stack=stack,
        labels={"team": "risk", "stage": "dev"},
        description="first",
    )
    updated = fa.update(
        art, labels={"stage": "prod", "team": None}, description="cleaned rows", stack=stack
    )
    assert updated.labels == {"stage": "prod"}
    assert updated.description == "cleaned rows"
    assert list(fa.list_artifacts(labels={"team": "risk"}, stack=stack)) == []
    assert len(list(fa.list_artifacts(labels={"stage": "prod"}, stack=stack))) == 1


def test_metadata_aspects_are_validated_against_their_schema(stack):
    art = fa.materialize({"v": 1}, "clean", "r1", "prep", "demo", stack=stack)
    schema = {"type": "object", "properties": {"rows": {"type": "integer"}}, "required": ["rows"]}
    assert art.add_metadata("quality", {"rows": 10}, schema=schema) is art
    art.add_metadata("owner", {"$schema": {"type": "object"}, "name": "ana"})
    assert art.aspects == {
        "quality": {"rows": 10},
        "owner": {"$schema": {"type": "object"}, "name": "ana"},
    }
    with pytest.raises(fa.MetadataValidationError, match="quality"):
        art.add_metadata("quality", {"rows": "ten"}, schema=schema)
    assert art.aspects["quality"] == {"rows": 10}


def test_delete_one_version_removes_row_and_bytes(stack):
    a1 = fa.materialize({"v": 1}, "clean", "r1", "prep", "demo", stack=stack)
    a2 = fa.materialize({"v": 2}, "clean", "r2", "prep", "demo", stack=stack)
    assert fa.delete(a1, stack=stack) == [a1.id]
    assert not stack.store.exists(a1.key)
    assert fa.get_artifact("store://demo/clean", stack=stack) == a2
    with pytest.raises(fa.ArtifactNotFound):
        fa.get_artifact(a1.id, stack=stack)
    a3 = fa.materialize({"v": 3}, "clean", "r3", "prep", "demo", stack=stack)
    assert a3.version == 3  # numbers are never reused


def test_delete_refuses_what_lineage_needs_unless_forced(stack):
    raw = fa.materialize({"raw": 1}, "raw", "r1", "ingest", "demo", stack=stack)
    fa.materialize({"v": 1}, "clean", "r1", "prep", "demo", inputs=[raw], stack=stack)
    with pytest.raises(fa.ArtifactInUse, match="store://demo/clean@1"):
        fa.delete(raw, stack=stack)
    assert stack.store.exists(raw.key)
    assert fa.delete(raw, force=True, stack=stack) == [raw.id]


def test_delete_all_versions_by_name(stack):
    for i in range(3):
        fa.materialize({"v": i}, "clean", f"r{i}", "prep", "demo", stack=stack)
    keep = fa.materialize({"v": 0}, "other", "r0", "prep", "demo", stack=stack)
    assert len(fa.delete("clean", "demo", all_versions=True, stack=stack)) == 3
    assert [a.id for a in fa.list_artifacts("demo", stack=stack)] == [keep.id]
    assert stack.store.list_artifacts() == [keep.key]


def test_download_streams_a_chosen_version(stack, tmp_path):
    fa.materialize(b"one", "blob", "r1", "s", "demo", stack=stack)
    latest = fa.materialize(b"two", "blob", "r2", "s", "demo", stack=stack)
    path = fa.download(latest, tmp_path / "out" / "blob.bin", version=1, stack=stack)
    assert path.read_bytes() == b"one"


def test_schema_from_a_newer_release_is_refused(catalog_url):
    catalog = Catalog(catalog_url)
    with catalog.engine.begin() as conn:
        conn.execute(schema.schema_info.update().values(version=999))
    catalog.close()
    with pytest.raises(fa.CatalogError, match="newer flow-artifacts"):
        Catalog(catalog_url)


def test_unreachable_database_is_a_clear_error(tmp_path):
    with pytest.raises(fa.CatalogError, match="opening catalog"):
        Catalog("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(fa.ConfigError, match="not a database URL"):
        Catalog("::nonsense::")


def test_listing_takes_iso_strings_for_since_and_until(stack):
    art = fa.materialize({"v": 1}, "clean", "r1", "prep", "demo", stack=stack)
    assert [a.id for a in fa.list_artifacts("demo", since="2020-01-01", stack=stack)] == [art.id]
    assert list(fa.list_artifacts("demo", until="2020-01-01T00:00:00+00:00", stack=stack)) == []
    with pytest.raises(fa.ConfigError, match="since 'the day before' is not a time"):
        list(fa.list_artifacts("demo", since="the day before", stack=stack))


def test_listing_filters_by_tag_label_key_text_and_relative_time(stack):
    made = [
        fa.materialize({"v": 1}, "clean", "r1", "prep", "demo", stack=stack, labels={"t": "x"}),
        fa.materialize({"v": 2}, "clean", "r1", "prep2", "demo", stack=stack),
        fa.materialize({"v": 3}, "odd_100%", "r1", "prep", "demo", stack=stack),
    ]
    fa.tag(made[1], "prod", stack=stack)
    fa.update(made[1], description="Cleaned by HAND", stack=stack)

    def ids(**filters):
        return [a.id for a in fa.list_artifacts("demo", stack=stack, **filters)]

    assert ids(tag="prod") == [made[1].id] and ids(tag="none") == []
    assert ids(label_keys=["t"]) == [made[0].id] and ids(label_keys=["t", "u"]) == []
    assert ids(text="by hand") == [made[1].id] and ids(text="X") == [made[0].id]
    assert ids(text="100%") == [made[2].id] and ids(text="0_") == []
    assert ids(since="1h", until="now") == [m.id for m in reversed(made)]
    assert ids(until="yesterday") == []
    runs, _ = stack.catalog.runs_page("demo", since="today")
    assert [r.run_id for r in runs] == ["r1"] and stack.catalog.runs_page(until="1d")[0] == []


def test_a_name_at_the_highest_version_refuses_the_next_write_and_keeps_nothing(stack):
    from flow_artifacts.limits import MAX_VERSION

    fa.materialize(b"one", "full", "r1", "s", "demo", stack=stack)
    with stack.catalog.engine.begin() as conn:
        names = schema.artifact_names
        conn.execute(names.update().values(latest_version=MAX_VERSION - 1))
    last = fa.materialize(b"last", "full", "r2", "s", "demo", stack=stack)
    assert last.version == MAX_VERSION
    root = Path(stack.store.root)
    before = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    with pytest.raises(fa.InvalidName, match="highest a name can have"):
        fa.materialize(b"more", "full", "r3", "s", "demo", stack=stack)
    assert [a.version for a in fa.list_artifacts("demo", name="full", stack=stack)] == [
        MAX_VERSION,
        1,
    ]
    after = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert [p for p in after if ".flow-artifacts" not in p.parts] == [
        p for p in before if ".flow-artifacts" not in p.parts
    ]
    assert fa.materialize(b"elsewhere", "other", "r3", "s", "demo", stack=stack).version == 1


def test_the_step_cache_lookup_gives_the_latest_completed_run_with_its_edges(stack):
    catalog = stack.catalog
    source = fa.materialize(b"in", "source", "r0", "s", "demo", stack=stack)
    ids = []
    for run_id, status in (("r1", "completed"), ("r2", "completed"), ("r3", "failed")):
        sr = catalog.start_step_run("demo", run_id, "s", cache_key="k", inputs=[source.id])
        out = fa.materialize(b"out", "result", run_id, "s", "demo", step_run_id=sr, stack=stack)
        catalog.finish_step_run(sr, status)
        ids.append((sr, out.id))
    hit = catalog.start_step_run("demo", "r4", "s", cache_key="k")
    catalog.finish_step_run(hit, "completed", cached=True)  # a cache hit is never reused
    found = catalog.find_cached("k")
    assert found is not None
    assert (found.id, found.outputs, found.inputs) == (ids[1][0], [ids[1][1]], [source.id])
    assert (found.run_id, found.status, found.cache_key) == ("r2", "completed", "k")
    assert catalog.find_cached("other") is None


class _Workers(fa.Executor):
    """An executor contract whose workers are on the named hosts; it never runs a task here."""

    name = "workers"

    def __init__(self, *hosts: str) -> None:
        self._hosts = set(hosts)

    def submit(self, fn: Any, args: Any, *, key: str) -> Any:
        raise AssertionError("no task runs in this test")

    def result(self, future: Any) -> Any:
        raise AssertionError("no task runs in this test")

    def cancel(self, futures: Any) -> None:
        raise AssertionError("no task runs in this test")

    def hosts(self) -> set[str]:
        return self._hosts


def test_runs_on_other_machines_need_a_catalog_they_can_share(stack, catalog_backend):
    from flow_artifacts.steps.stack_spec import check_shareable

    remote = _Workers("10.9.8.7")
    expected = "sqlite" if catalog_backend == "sqlite" else "postgresql"
    assert (stack.catalog.backend, stack.catalog.in_memory) == (expected, False)
    if catalog_backend == "sqlite":
        with pytest.raises(fa.ConfigError, match="use PostgreSQL"):
            check_shareable(stack, remote)
    else:
        check_shareable(stack, remote)
    check_shareable(stack, _Workers("localhost"))
    in_memory = fa.Stack(store=stack.store, catalog=Catalog("sqlite://"))
    assert in_memory.catalog.in_memory
    with pytest.raises(fa.ConfigError, match="in-memory SQLite catalog"):
        check_shareable(in_memory, _Workers("localhost"))
    in_memory.catalog.close()
