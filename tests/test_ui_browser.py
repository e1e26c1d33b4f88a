"""The artifact browser in a real browser: Debian's Chromium driven by Playwright.

Screenshots of each step go to the test's tmp dir (`screens/`). Chromium comes from
`scripts/install-browser.sh` (run by `make test`); without it these tests fail, never skip.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flow_artifacts as fa
from flow_artifacts.ui.app import create_app
from flow_artifacts.ui.server import serve_in_thread
from tests.servers import CHROMIUM
from tests.servers import CHROMIUM_ARGS as ARGS
from tests.test_ui_api import populate
from tests.test_ui_server import SECRET, secret_stack

BULK = 60


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"the page tests need Debian's Chromium at {CHROMIUM}; install it with "
            "`bash scripts/install-browser.sh` (`make test` runs it)",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the page tests need Playwright: pip install -e '.[test]'", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


class Page:
    """A fresh browser tab that records script errors and numbers its screenshots."""

    def __init__(self, browser: Any, shots: Path) -> None:
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        self.tab = self.context.new_page()
        self.errors: list[str] = []
        self.tab.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.tab.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.shots = shots
        shots.mkdir(exist_ok=True)

    def shot(self, name: str, full_page: bool = True) -> None:
        number = len(list(self.shots.iterdir())) + 1
        self.tab.screenshot(path=self.shots / f"{number}-{name}.png", full_page=full_page)

    def open(self, url: str, view: str) -> Any:
        response = self.tab.goto(url)
        self.tab.wait_for_selector(f"body[data-view={view}]")
        return response


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Page]:
    opened = Page(browser, tmp_path / "screens")
    yield opened
    opened.context.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """The demo data of the API tests plus a `bulk` project of reports, served on a free port."""
    folder = tmp_path_factory.mktemp("site")
    stack = fa.Stack.local(folder / "fa")
    made = populate(stack, folder)
    for i in range(BULK):
        fa.materialize(
            {"i": i, "pad": "x" * i}, f"report{i:02d}", "bulk", "write", "bulk", stack=stack
        )
    with serve_in_thread(create_app(stack)) as url:
        yield url, made
    stack.close()


def test_search_preview_lineage_and_the_producing_step(site, page):
    from playwright.sync_api import expect

    url, made = site
    tab = page.tab
    page.open(f"{url}/?project=demo", "list")
    rows = tab.locator("#artifacts tbody tr")
    expect(rows).to_have_count(3)  # the latest version of each name
    expect(rows.filter(has_text="raw").locator("td").nth(6)).to_have_text("2")
    expect(rows.filter(has_text="clean").locator(".tag")).to_have_text(["prod"])
    tab.get_by_label("Show").select_option("all")
    tab.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(5)
    expect(tab).to_have_url(re.compile(r"view=all"))
    page.shot("list")
    tab.get_by_role("textbox", name="Labels").fill("team=risk")
    tab.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(tab).to_have_url(re.compile(r"label=team%3Drisk"))
    page.shot("search-by-label")

    tab.get_by_role("link", name="clean", exact=True).click()
    tab.wait_for_selector("body[data-view=artifact]")
    preview = tab.locator("section[aria-labelledby=s-preview]")
    first_rows = preview.locator("table").first
    expect(first_rows.locator("thead th")).to_have_text(["a", "b"])
    expect(first_rows.locator("tbody tr")).to_have_count(3)
    expect(first_rows.locator("tbody tr").first.locator("td")).to_have_text(["1", "x"])
    schema = preview.get_by_role("table", name="Schema")
    expect(schema.get_by_role("cell", name="large_string")).to_be_visible()
    stats = preview.get_by_role("table", name=re.compile("^Column statistics"))
    expect(stats.locator("tbody tr").first.locator("td")).to_have_text(
        ["a", "int64", "0", "3", "1", "3"]
    )
    expect(tab.get_by_label("URI", exact=True)).to_have_value("store://demo/clean@1")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    tab.get_by_role("button", name="Copy URN").click()
    expect(tab.get_by_role("button", name="Copy URN")).to_have_text("Copied")
    assert tab.evaluate("navigator.clipboard.readText()") == made["clean"].urn
    with tab.expect_download() as download:
        tab.get_by_role("link", name="Download").click()
    assert Path(download.value.path()).read_bytes() == Path(made["clean"].path).read_bytes()
    page.shot("artifact")

    tab.get_by_role("link", name="Lineage graph").click()
    tab.wait_for_selector("body[data-view=lineage]")
    page.shot("lineage", full_page=False)
    box = tab.locator("#graph").bounding_box()
    where = tab.evaluate(
        "() => window.faGraph.nodes(\"[type = 'step'][label = 'prep']\").renderedPosition()"
    )
    tab.mouse.click(box["x"] + where["x"], box["y"] + where["y"])
    tab.wait_for_url(re.compile(rf"/runs/demo/{made['first'].id}#step-"))
    tab.wait_for_selector("body[data-view=run]")
    expect(tab.locator("#steps tr.target th")).to_have_text("prep")
    expect(tab.locator("#timeline li .timeline-name")).to_have_text(["ingest", "prep", "summarize"])
    page.shot("producing-step")
    assert page.errors == []


def test_sort_and_page_through_a_project(site, page):
    from playwright.sync_api import expect

    url, _ = site
    tab = page.tab
    page.open(f"{url}/?project=bulk", "list")
    rows = tab.locator("#artifacts tbody tr")
    expect(rows).to_have_count(50)
    tab.get_by_role("button", name="Size").click()
    expect(tab.locator("th[aria-sort=descending]")).to_have_text("Size ▼")
    expect(rows.first.locator("td").first).to_contain_text("report59")
    tab.get_by_role("button", name="Size").click()
    expect(rows.first.locator("td").first).to_contain_text("report00")
    tab.get_by_role("button", name="Next").click()
    expect(rows).to_have_count(BULK - 50)
    expect(rows.first.locator("td").first).to_contain_text("report50")
    expect(tab.locator(".pager")).to_contain_text("Page 2 · 10 shown")
    page.shot("sorted-page-2")
    tab.get_by_role("button", name="Previous").click()
    expect(rows).to_have_count(50)
    expect(tab.get_by_role("button", name="Previous")).to_be_disabled()
    assert page.errors == []


def test_image_and_text_previews_show(site, page):
    from playwright.sync_api import expect

    url, made = site
    tab = page.tab
    page.open(f"{url}/artifacts/{made['logo.png'].id}", "artifact")
    image = tab.get_by_role("img", name="Image content of this artifact")
    expect(image).to_be_visible()
    assert tab.evaluate("(img) => img.naturalWidth", image.element_handle()) == 64
    page.shot("image-preview")
    page.open(f"{url}/artifacts/{made['notes.txt'].id}", "artifact")
    expect(tab.get_by_label("Text content")).to_have_text("first line\nsecond line\n")
    page.open(f"{url}/artifacts/{made['raw'].id}", "artifact")
    expect(tab.get_by_label("JSON content")).to_contain_text('"source": "unit test"')
    assert page.errors == []


def test_missing_artifact_gets_a_404_page(site, page):
    url, _ = site
    response = page.tab.goto(f"{url}/artifacts/00000000-0000-4000-8000-000000000000")
    assert response.status == 404
    assert page.tab.get_by_role("heading").inner_text() == "404 Not found"
    page.shot("not-found")


def test_the_page_never_shows_a_storage_secret(page, tmp_path, monkeypatch):
    stack = secret_stack(tmp_path, monkeypatch)
    raw = fa.get_artifact("store://demo/raw", stack=stack)
    with serve_in_thread(create_app(stack)) as url:
        seen = []
        for path, view in [
            ("/", "list"),
            (f"/artifacts/{raw.id}", "artifact"),
            (f"/lineage/{raw.id}", "lineage"),
            ("/runs", "runs"),
        ]:
            page.open(url + path, view)
            seen += [page.tab.content(), page.tab.inner_text("body")]
        run = stack.catalog.runs("demo")[0]
        page.open(f"{url}/runs/demo/{run.run_id}", "run")
        seen += [page.tab.content(), page.tab.inner_text("body")]
        page.shot("masked-secret")
    assert all(SECRET not in text for text in seen)
    assert any("got ***" in text for text in seen)
    stack.close()


def test_a_token_in_the_url_becomes_a_cookie(page, tmp_path):
    stack = fa.Stack.local(tmp_path / "fa")
    fa.materialize({"a": 1}, "raw", "r1", "ingest", "default", stack=stack)
    with serve_in_thread(create_app(stack, token="t0ken")) as url:
        assert page.tab.goto(f"{url}/").status == 401
        page.open(f"{url}/?token=t0ken", "list")
        assert "token" not in page.tab.url
        page.open(f"{url}/runs", "runs")
    stack.close()


def test_delete_button_only_when_allowed(page, tmp_path):
    from playwright.sync_api import expect

    stack = fa.Stack.local(tmp_path / "fa")
    art = fa.materialize({"a": 1}, "raw", "r1", "ingest", "default", stack=stack)
    with serve_in_thread(create_app(stack)) as url:
        page.open(f"{url}/artifacts/{art.id}", "artifact")
        expect(page.tab.get_by_role("button", name="Delete this version")).to_have_count(0)
    with serve_in_thread(create_app(stack, allow_delete=True)) as url:
        page.open(f"{url}/artifacts/{art.id}", "artifact")
        expect(page.tab.locator("#stack")).to_contain_text("deletes allowed")
        page.tab.once("dialog", lambda dialog: dialog.accept())
        page.tab.get_by_role("button", name="Delete this version").click()
        page.tab.wait_for_selector("body[data-view=list]")
        expect(page.tab.locator("#artifacts tbody")).to_have_text("No artifacts match.")
    assert stack.catalog.count() == 0 and page.errors == []
    stack.close()


def test_compare_versions_and_runs(site, page):
    from playwright.sync_api import expect

    url, made = site
    tab = page.tab
    page.open(f"{url}/artifacts/demo/raw@2", "artifact")
    tab.get_by_role("link", name="Compare version 1 with 2").click()
    tab.wait_for_selector("body[data-view=compare]")
    expect(tab.get_by_role("heading", level=1)).to_have_text("Compare demo/raw@1 with demo/raw@2")
    expect(tab.locator("#c-content + p")).to_have_text("No changes.")
    tab.get_by_label("B", exact=True).fill("files/notes@1")
    tab.get_by_role("button", name="Compare").click()
    tab.wait_for_url(re.compile(r"b=files%2Fnotes%401"))
    tab.wait_for_selector("body[data-view=compare]")
    changed = tab.locator("tr.change-changed th")
    expect(changed.first).to_have_text("kind")
    page.shot("compare")

    first, second = made["first"].id, made["second"].id
    page.open(f"{url}/runs/demo/{first}", "run")
    tab.get_by_label("Compare with run").fill(second[:8])
    tab.get_by_role("button", name="Compare").click()
    tab.wait_for_url(re.compile(r"/compare\?runs=1"))
    tab.wait_for_selector("body[data-view=compare]")
    expect(tab.get_by_role("heading", level=1)).to_have_text(
        f"Compare run demo/{first[:8]} with demo/{second[:8]}"
    )
    expect(tab.locator("#cmp-step-prep td").nth(1)).to_contain_text("completed")
    page.shot("compare-runs")
    assert page.errors == []


def test_the_list_opens_on_all_projects_with_counts(site, page):
    from playwright.sync_api import expect

    url, _ = site
    page.open(f"{url}/", "list")
    options = page.tab.locator("#f-project option")
    expect(options).to_have_text(["All projects (70)", "bulk (60)", "demo (5)", "files (5)"])
    expect(page.tab.get_by_label("Project")).to_have_value("")
    expect(page.tab.get_by_label("Show")).to_have_value("latest")
    assert page.errors == []


LABEL_HEIGHTS = """() => {
  const cy = window.faGraph;
  const box = { w: cy.width(), h: cy.height() };
  return cy.nodes().map((n) => {
    const label = n.renderedBoundingBox({ includeNodes: false, includeEdges: false,
      includeLabels: true });
    const lines = n.data("text").split("\\n").length;
    const at = n.renderedPosition();
    return { id: n.id(), root: !!n.data("root"), line: label.h / lines,
      inView: at.x >= 0 && at.x <= box.w && at.y >= 0 && at.y <= box.h };
  });
}"""


def test_a_50_node_lineage_graph_reads_at_the_initial_view(page, tmp_path):
    """One table feeding 24 steps: 50 nodes. Labels are at least 10 px high as first drawn,
    every edge points down, and nodes show their project and kind."""
    from playwright.sync_api import expect

    stack = fa.Stack.local(tmp_path / "fa")
    raw = fa.materialize({"rows": 1}, "raw", "r0", "ingest", "wide", stack=stack)
    for i in range(24):
        fa.materialize(
            {"i": i}, f"out{i:02d}", "r1", f"s{i:02d}", "wide", inputs=[raw], stack=stack
        )
    with serve_in_thread(create_app(stack)) as url:
        page.open(f"{url}/lineage/{raw.id}?depth=all", "lineage")
        tab = page.tab
        page.shot("lineage-50", full_page=False)
        labels = tab.evaluate(LABEL_HEIGHTS)
        assert len(labels) == 50
        assert min(item["line"] for item in labels) >= 10, labels
        assert any(item["root"] and item["inView"] for item in labels)
        downward = tab.evaluate(
            "() => window.faGraph.edges().every((e) =>"
            " e.source().position('y') < e.target().position('y'))"
        )
        assert downward
        root_text = tab.evaluate("() => window.faGraph.nodes('[?root]').data('text')")
        assert root_text == "raw@1\nwide · report"
        tab.get_by_role("button", name="Fit all").click()
        fitted = tab.evaluate(LABEL_HEIGHTS)
        assert all(item["inView"] for item in fitted)
        tab.get_by_role("button", name="Reset view").click()
        before = tab.evaluate("() => window.faGraph.zoom()")
        tab.get_by_role("button", name="Zoom in").click()
        assert tab.evaluate("() => window.faGraph.zoom()") > before
        expect(tab.locator(".graph-controls button")).to_have_count(4)
    stack.close()
    assert page.errors == []


def test_list_and_artifact_pages_fit_a_390_px_screen(site, browser, tmp_path):
    url, made = site
    context = browser.new_context(viewport={"width": 390, "height": 844})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    wide = "() => document.documentElement.scrollWidth"
    for path, view in [
        ("/?view=all", "list"),
        (f"/artifacts/{made['clean'].id}", "artifact"),
        (f"/artifacts/{made['tree'].id}", "artifact"),
    ]:
        tab.goto(url + path)
        tab.wait_for_selector(f"body[data-view={view}]")
        tab.wait_for_load_state("networkidle")
        tab.screenshot(path=tmp_path / f"narrow-{view}-{len(path)}.png", full_page=True)
        assert tab.evaluate(wide) <= 390, path
    context.close()
    assert errors == []


def test_edit_tags_labels_and_description_from_the_page(page, tmp_path):
    from playwright.sync_api import expect

    stack = fa.Stack.local(tmp_path / "fa")
    one = fa.materialize({"v": 1}, "report", "r1", "eval", "demo", stack=stack)
    two = fa.materialize({"v": 2}, "report", "r2", "eval", "demo", stack=stack)
    fa.tag(one, "prod", stack=stack)
    with serve_in_thread(create_app(stack)) as url:
        page.open(f"{url}/artifacts/{two.id}", "artifact")
        expect(page.tab.get_by_role("heading", name="Edit")).to_have_count(0)
    with serve_in_thread(create_app(stack, allow_delete=True)) as url:
        tab = page.tab
        page.open(f"{url}/artifacts/{two.id}", "artifact")
        status = tab.locator("#edit-status")
        tab.get_by_label("Tag", exact=True).fill("prod")
        tab.get_by_role("button", name="Add tag").click()
        expect(status).to_have_text("Moved tag prod from version 1 to version 2.")
        expect(tab.locator("h1 .tag")).to_have_text(["prod"])
        tab.get_by_label("Label key").fill("stage")
        tab.get_by_label("Value").fill("gold")
        tab.get_by_role("button", name="Set label").click()
        expect(status).to_have_text("Set label stage=gold.")
        tab.get_by_role("textbox", name="Description").fill("The second report")
        tab.get_by_role("button", name="Save description").click()
        expect(status).to_have_text("Saved the description.")
        expect(tab.locator("p.lead")).to_have_text("The second report")
        page.shot("edited")
        tab.get_by_role("button", name="Remove label stage").click()
        expect(status).to_have_text("Removed label stage.")
        tab.get_by_role("button", name="Remove tag prod").click()
        expect(status).to_have_text("Removed tag prod.")
        tab.get_by_label("Tag", exact=True).fill("12")
        tab.get_by_role("button", name="Add tag").click()
        expect(status).to_contain_text("version number")
        page.shot("edit-refused")
    again = fa.get_artifact(two.id, stack=stack)
    assert again.labels == {} and again.description == "The second report"
    assert stack.catalog.tags(two.id) == [] and stack.catalog.tags(one.id) == []
    stack.close()
    assert page.errors == [] or all("400" in e for e in page.errors)


def test_a_failed_step_shows_its_error_and_traceback_on_the_run_page(page, tmp_path):
    from playwright.sync_api import expect

    stack = fa.Stack.local(tmp_path / "fa")
    stack.secrets = ("page-Secret-123",)

    def divide(n: int) -> float:
        return n / 0

    @fa.step
    def crunch(n: int) -> float:
        if n:
            return divide(n)
        raise ValueError("never")

    with pytest.raises(ZeroDivisionError), fa.run(project="demo", stack=stack) as run:
        crunch(3)
    with serve_in_thread(create_app(stack)) as url:
        page.open(f"{url}/runs/demo/{run.id}", "run")
        tab = page.tab
        expect(tab.get_by_label("Error of step crunch")).to_have_text(
            "ZeroDivisionError: division by zero"
        )
        trace = tab.get_by_label("Traceback of step crunch")
        expect(trace).to_be_hidden()
        tab.get_by_text("Traceback", exact=True).click()
        expect(trace).to_contain_text("in divide")
        expect(trace).to_contain_text("return n / 0")
        expect(tab.locator("#timeline li")).to_have_count(1)
        expect(tab.locator("#timeline li")).to_contain_text("crunch")
        expect(tab.locator("#timeline .timeline-bar.status-bg-failed")).to_have_count(1)
        started = tab.locator("dd time").first.inner_text()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+", started), started
        page.shot("failed-step")
    stack.close()
    assert page.errors == []


def test_lineage_hover_card_and_focus_on_one_node(site, page):
    """clean@1 was used by both runs' summarize: summary@1's lineage leaves out summary@2."""
    from playwright.sync_api import expect

    url, made = site
    tab = page.tab
    page.open(f"{url}/lineage/{made['clean'].id}?depth=all", "lineage")
    box = tab.locator("#graph").bounding_box()
    at = tab.evaluate("() => window.faGraph.nodes(\"[label = 'summary@1']\").renderedPosition()")
    tab.mouse.move(box["x"] + at["x"], box["y"] + at["y"])
    card = tab.get_by_role("tooltip")
    expect(card).to_be_visible()
    expect(card).to_contain_text("demo/summary@1")
    expect(card).to_contain_text("made by summarize")
    faded = tab.evaluate("() => window.faGraph.nodes('.faded').map((n) => n.data('label'))")
    assert "summary@2" in faded and "clean@1" not in faded
    page.shot("lineage-hover", full_page=False)
    tab.mouse.move(box["x"] + 2, box["y"] + 2)
    expect(card).to_be_hidden()

    shown = "() => window.faGraph.nodes().filter((n) => n.visible()).map((n) => n.data('label'))"
    settled = "() => window.faGraph.nodes().every((n) => n.visible() !== n.hasClass('away'))"
    everything = sorted(tab.evaluate(shown))
    tab.mouse.click(box["x"] + at["x"], box["y"] + at["y"], button="right")
    expect(tab.locator("#focus-note")).to_contain_text("Showing only what summary@1 came from")
    tab.wait_for_function(settled)  # Cytoscape restyles on its next frame
    focused = tab.evaluate(shown)
    assert "summary@1" in focused and "raw@1" in focused and "summary@2" not in focused
    page.shot("lineage-focus", full_page=False)
    tab.get_by_role("button", name="Show the whole graph").click()
    tab.wait_for_function(settled)
    assert sorted(tab.evaluate(shown)) == everything
    tab.get_by_text("nodes as a list").click()
    tab.get_by_role("button", name="Focus on demo/summary@2").click()
    expect(tab.locator("#focus-note")).to_contain_text("Showing only what summary@2 came from")
    tab.wait_for_function(settled)
    assert "summary@1" not in tab.evaluate(shown) and "summary@2" in tab.evaluate(shown)
    assert page.errors == []


def test_compare_two_rows_ticked_in_the_list(site, page):
    from playwright.sync_api import expect

    url, _ = site
    tab = page.tab
    page.open(f"{url}/?project=demo&view=all&name=raw", "list")
    compare = tab.get_by_role("button", name="Compare selected")
    expect(compare).to_be_disabled()
    tab.get_by_role("checkbox", name="Select demo/raw@2 to compare").check()
    expect(compare).to_be_disabled()
    tab.get_by_role("checkbox", name="Select demo/raw@1 to compare").check()
    expect(tab.locator("#picked")).to_have_text("Selected: demo/raw@2 and demo/raw@1")
    page.shot("two-ticked")
    compare.click()
    tab.wait_for_selector("body[data-view=compare]")
    expect(tab.locator("h1")).to_contain_text("raw@1")
    assert tab.url.index("a=") < tab.url.index("b=")
    a, b = (tab.evaluate(f"new URLSearchParams(location.search).get('{k}')") for k in "ab")
    assert a != b
    page.shot("compared-from-list")
    assert page.errors == []


def test_type_views_tables_csv_markdown_and_folders(page, tmp_path):
    import io
    import zipfile

    import numpy as np
    import pandas as pd
    from playwright.sync_api import expect

    stack = fa.Stack.local(tmp_path / "fa")
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2024-03-30 12:00", periods=25, freq="h", tz="Europe/Paris"),
            "n": [None if i % 10 == 0 else i for i in range(25)],
        }
    )
    table = fa.materialize(frame, "events", "r1", "s", "demo", stack=stack)
    (tmp_path / "people.csv").write_text("name,age\nada,36\nbob,41\n")
    csv_file = fa.upload_file(tmp_path / "people.csv", "people", "files", stack=stack)
    (tmp_path / "notes.md").write_text(
        "# Notes\n\nSome **bold** and `code`.\n\n- one\n- two\n\n"
        '<img src=x onerror="window.pwned=1"> [bad](javascript:window.pwned=2) '
        "[good](https://example.org/a)\n\n" + "`*_[" * 50_000 + "\n"  # no pattern runs away
    )
    notes = fa.upload_file(tmp_path / "notes.md", "notes", "files", stack=stack)
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a.txt").write_text("a")
    tree = fa.upload_file(tmp_path / "tree", "tree", "files", stack=stack)
    with serve_in_thread(create_app(stack)) as url:
        tab = page.tab
        page.open(f"{url}/artifacts/{table.id}", "artifact")
        rows = tab.locator("#preview-rows tbody tr")
        expect(rows).to_have_count(10)
        expect(rows.first.locator("td").first).to_have_text(
            "2024-03-30 12:00:00 +01:00 Europe/Paris"
        )
        tab.get_by_role("button", name="Next rows").click()
        expect(tab.locator("#preview-rows caption")).to_have_text("Rows 11–20 of 25")
        stats = tab.locator("#column-stats tbody tr")
        expect(stats.nth(1).locator("td")).to_have_text(["n", "double", "3", "22", "1", "24"])
        expect(stats.first.locator("td").nth(5)).to_have_text(
            "2024-03-31 13:00:00 +02:00 Europe/Paris"  # 24 h later, past the DST change
        )
        page.shot("table-stats")
        grid = fa.materialize(np.arange(6).reshape(3, 2), "grid", "r1", "s", "demo", stack=stack)
        page.open(f"{url}/artifacts/{grid.id}", "artifact")
        expect(tab.locator("#preview-rows tbody tr").last.locator("td")).to_have_text(["4", "5"])
        expect(tab.get_by_text("A NumPy array of shape 3 x 2 and dtype int64.")).to_be_visible()
        page.open(f"{url}/artifacts/{csv_file.id}", "artifact")
        expect(tab.locator("#preview-rows tbody tr").first.locator("td")).to_have_text(
            ["ada", "36"]
        )
        page.open(f"{url}/artifacts/{notes.id}", "artifact")
        rendered = tab.get_by_label("Markdown content")
        expect(rendered.locator("h3")).to_have_text("Notes")
        expect(rendered.locator("strong")).to_have_text("bold")
        expect(rendered.locator("li")).to_have_count(2)
        expect(rendered.locator("img")).to_have_count(0)
        expect(rendered.locator("a")).to_have_count(1)
        expect(rendered.locator("a")).to_have_attribute("href", "https://example.org/a")
        expect(rendered).to_contain_text("<img src=x")
        assert tab.evaluate("window.pwned") is None
        page.shot("markdown", full_page=False)
        second = fa.materialize(frame.head(5), "events", "r2", "s", "demo", stack=stack)
        page.open(f"{url}/compare?a={table.id}&b={second.id}", "compare")
        stats = tab.get_by_role("region", name="Column statistics")
        expect(stats.locator("tbody tr").nth(1).locator("td").first).to_have_text("3 → 1 (-2)")
        page.shot("compare-stats")
        page.open(f"{url}/artifacts/{tree.id}", "artifact")
        with tab.expect_download() as download:
            tab.get_by_role("link", name="Download as zip").click()
        with zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())) as archive:
            assert archive.read("a.txt") == b"a"
    stack.close()
    assert page.errors == []


def test_model_page_parameters_metrics_and_load_snippet_and_a_metrics_chart(page, tmp_path):
    from playwright.sync_api import expect

    from tests.test_ui_models import train_and_evaluate

    stack = fa.Stack.local(tmp_path / "fa")
    made = train_and_evaluate(stack)
    with serve_in_thread(create_app(stack)) as url:
        tab = page.tab
        page.open(f"{url}/artifacts/{made['model'].id}", "artifact")
        expect(tab.locator("#params tr").first.locator("th, td")).to_have_text(["depth", "8"])
        expect(tab.locator("#params")).to_contain_text("***")
        expect(tab.get_by_role("textbox", name="Load in Python")).to_have_value(
            'fa.load("store://ml/model@3")'
        )
        expect(tab.get_by_role("textbox", name="Get with the CLI")).to_have_value(
            "flow-artifacts get store://ml/model@3"
        )
        metrics = tab.get_by_role("region", name="Metrics")
        expect(metrics.get_by_role("link", name="ml/eval@3")).to_be_visible()
        expect(metrics.get_by_role("table", name="Metrics of ml/eval@3")).to_contain_text("0.58")
        page.shot("model-page")
        metrics.get_by_role("link", name="ml/eval@3").click()
        tab.wait_for_selector("body[data-view=artifact]")
        chart = tab.get_by_role("img", name=re.compile("^acc across versions"))
        expect(chart).to_have_attribute(
            "aria-label", "acc across versions: v1 0.52, v2 0.54, v3 0.58"
        )
        expect(tab.locator("#metrics tbody tr")).to_have_count(2)
        page.shot("metrics-report")
    stack.close()
    assert page.errors == []


def test_filter_by_tag_label_key_text_and_relative_times(site, page):
    from playwright.sync_api import expect

    url, _ = site
    tab = page.tab
    page.open(f"{url}/?project=demo&view=all", "list")
    rows = tab.locator("#artifacts tbody tr")
    search = tab.get_by_role("button", name="Search")
    for label, value, count in [
        ("Tag", "prod", 1),
        ("Label keys", "team", 1),
        ("Text", "RISK", 1),  # a label's value, any case
        ("Created from", "1h", 5),
    ]:
        tab.get_by_role("button", name="Clear").click()
        expect(rows).to_have_count(5)
        tab.get_by_label(label, exact=True).fill(value)
        search.click()
        expect(rows).to_have_count(count)
    tab.get_by_label("Created before", exact=True).fill("yesterday")
    search.click()
    expect(rows).to_have_text(["No artifacts match."])
    expect(tab).to_have_url(re.compile(r"until=yesterday"))
    tab.get_by_label("Created before", exact=True).fill("3x")
    search.click()
    expect(tab.get_by_role("alert")).to_contain_text("until '3x' is not a time; write 2d")
    page.shot("filters")

    page.open(f"{url}/runs?project=demo&since=2d", "runs")
    expect(tab.locator("#runs tbody tr")).to_have_count(2)
    page.open(f"{url}/runs?project=demo&until=yesterday", "runs")
    expect(tab.locator("#runs tbody tr")).to_have_text(["No runs."])
    assert [e for e in page.errors if "status of 400" not in e] == []  # "3x" was refused
