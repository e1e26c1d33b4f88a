// The artifact list: search form, sortable table, and keyset paging (Next follows the API's
// cursor; Previous goes back through the cursors already seen). The URL keeps the search.
// Any two rows, on one page or across pages, can be ticked and compared.
import {
  announce, api, artifactHref, chips, h, markReady, runHref, showError, size, when,
} from "./dom.js";

const COLUMNS = [
  ["name", "Name", "asc"],
  ["version", "Version", "desc"],
  ["kind", "Kind", "asc"],
  ["size", "Size", "desc"],
  ["created", "Created", "desc"],
  ["step", "Producer step", "asc"],
];
const KINDS = ["dataset", "model", "report", "file", "object"];
const PAGE = 50;

function readState(info) {
  const q = new URLSearchParams(location.search);
  return {
    project: q.get("project") || "",
    view: q.get("view") === "all" ? "all" : "latest",
    name: q.get("name") || "",
    kind: q.get("kind") || "",
    label: q.getAll("label"),
    has: q.getAll("has"),
    tag: q.get("tag") || "",
    q: q.get("q") || "",
    since: q.get("since") || "",
    until: q.get("until") || "",
    sort: q.get("sort") || "created",
    order: q.get("order") || "desc",
    cursor: q.get("cursor") || "",
  };
}

function field(label, control) {
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}

export async function render(main, info) {
  const state = readState(info);
  const trail = []; // cursors of the pages before this one
  const counts = info.project_counts || {};
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const project = h("select", { id: "f-project", name: "project" },
    h("option", { value: "" }, `All projects (${total.toLocaleString()})`),
    info.projects.map((p) => h("option", { value: p, selected: p === state.project },
      `${p} (${(counts[p] || 0).toLocaleString()})`)));
  const view = h("select", { id: "f-view" },
    h("option", { value: "latest", selected: state.view === "latest" }, "Latest of each name"),
    h("option", { value: "all", selected: state.view === "all" }, "Every version"));
  const name = h("input", { id: "f-name", type: "search", value: state.name,
    placeholder: "part of a name" });
  const kind = h("select", { id: "f-kind" }, h("option", { value: "" }, "Any kind"),
    KINDS.map((k) => h("option", { value: k, selected: k === state.kind }, k)));
  const label = h("input", { id: "f-label", value: state.label.join(", "),
    placeholder: "team=risk, stage=prod" });
  const text = h("input", { id: "f-q", type: "search", value: state.q,
    placeholder: "in name, description, labels" });
  const tag = h("input", { id: "f-tag", value: state.tag, placeholder: "prod" });
  const has = h("input", { id: "f-has", value: state.has.join(", "), placeholder: "team, owner" });
  // Typed as on the command line (2d, 3h, yesterday, 2026-05-01); the server reads them.
  const since = h("input", { id: "f-since", value: state.since, placeholder: "2d, yesterday" });
  const until = h("input", { id: "f-until", value: state.until, placeholder: "2026-05-01" });
  const form = h("form", { role: "search", class: "filters", "aria-label": "Search artifacts" },
    field("Project", project), field("Show", view), field("Name", name), field("Text", text),
    field("Kind", kind), field("Labels", label), field("Label keys", has), field("Tag", tag),
    field("Created from", since), field("Created before", until),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Search"),
      h("button", { type: "reset", class: "secondary" }, "Clear")));
  const head = h("tr");
  const body = h("tbody");
  const table = h("table", { class: "grid cards", id: "artifacts" },
    h("caption", { class: "visually-hidden" }, "Artifacts"), h("thead", {}, head), body);
  const prev = h("button", { type: "button", class: "secondary" }, "Previous");
  const next = h("button", { type: "button", class: "secondary" }, "Next");
  const where = h("span", { class: "muted" });
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const picked = new Map(); // id -> row, the rows ticked for comparison (at most two)
  const compare = h("button", { type: "button", id: "compare-selected", disabled: true },
    "Compare selected");
  const pickedText = h("span", { class: "muted", id: "picked" }, "Tick two rows to compare them.");
  main.replaceChildren(h("h1", {}, "Artifacts"), form, message,
    h("div", { class: "toolbar" }, compare, pickedText), table,
    h("nav", { class: "pager", "aria-label": "Pages" }, prev, where, next));

  function drawPicked() {
    const refs = [...picked.values()].map((a) => a.ref);
    compare.disabled = picked.size !== 2;
    pickedText.textContent = picked.size ? `Selected: ${refs.join(" and ")}`
      : "Tick two rows to compare them.";
    for (const box of body.querySelectorAll("input[data-id]")) {
      box.disabled = !box.checked && picked.size >= 2;
    }
  }

  // Older first, so "+" in the comparison reads as "added since".
  compare.onclick = () => {
    const [a, b] = [...picked.values()].sort((x, y) =>
      x.created.localeCompare(y.created) || x.version - y.version);
    location.href = `/compare?${new URLSearchParams({ a: a.id, b: b.id })}`;
  };

  function pick(a) {
    const box = h("input", { type: "checkbox", "data-id": a.id, checked: picked.has(a.id),
      "aria-label": `Select ${a.ref} to compare` });
    box.addEventListener("change", () => {
      if (box.checked) picked.set(a.id, a);
      else picked.delete(a.id);
      drawPicked();
    });
    return box;
  }

  function drawHead() {
    head.replaceChildren(...COLUMNS.map(([key, title, firstOrder]) => {
      const active = state.sort === key;
      const arrow = active ? (state.order === "asc" ? " ▲" : " ▼") : "";
      return h("th", { scope: "col", "aria-sort": active ? `${state.order}ending` : null,
        class: key === "size" || key === "version" ? "num" : null },
      h("button", { type: "button", class: "sort", onclick: () => {
        state.order = active ? (state.order === "asc" ? "desc" : "asc") : firstOrder;
        state.sort = key;
        restart();
      } }, title, arrow));
    }), h("th", { scope: "col", class: "num" }, "Versions"), h("th", { scope: "col" }, "Tags"),
    h("th", { scope: "col" }, "Compare"));
  }

  function row(a) {
    return h("tr", {},
      h("td", {}, h("a", { href: artifactHref(a.id) }, a.name),
        state.project ? null : h("span", { class: "muted" }, ` in ${a.project}`), chips(a.labels)),
      h("td", { class: "num", "data-label": "Version" }, a.version),
      h("td", { "data-label": "Kind" }, h("span", { class: `kind kind-${a.kind}` }, a.kind)),
      h("td", { class: "num", "data-label": "Size" }, size(a.size)),
      h("td", { "data-label": "Created" }, when(a.created)),
      h("td", { "data-label": "Step" }, h("a", { href: runHref(a.project, a.run_id) }, a.step),
        h("span", { class: "muted", title: a.run_id }, ` · ${a.run_id.slice(0, 8)}`)),
      h("td", { class: "num", "data-label": "Versions" }, a.version_count),
      h("td", { "data-label": Object.keys(a.name_tags).length ? "Tags" : null }, Object.entries(a.name_tags).map(([tag, version]) => h("span",
        { class: "tag", title: `${a.project}/${a.name}:${tag} is version ${version}` },
        version === a.version ? tag : `${tag}@${version}`))),
      h("td", { "data-label": "Compare" }, pick(a)));
  }

  function syncUrl() {
    const q = new URLSearchParams();
    for (const [key, value] of Object.entries(state)) {
      for (const item of [].concat(value)) if (item) q.append(key, item);
    }
    history.replaceState(null, "", `/?${q}`);
  }

  async function load() {
    drawHead();
    try {
      const page = await api("/api/artifacts", { ...state, limit: PAGE });
      message.hidden = true;
      body.replaceChildren(...(page.items.length ? page.items.map(row)
        : [h("tr", {}, h("td", { colspan: COLUMNS.length + 3, class: "muted" }, "No artifacts match."))]));
      drawPicked();
      prev.disabled = trail.length === 0;
      next.disabled = !page.next_cursor;
      next.onclick = () => { trail.push(state.cursor); state.cursor = page.next_cursor; load(); };
      where.textContent = `Page ${trail.length + 1} · ${page.items.length} shown`;
      announce(`${page.items.length} artifacts on page ${trail.length + 1}`);
      syncUrl();
    } catch (error) {
      if (error.status !== 400) return showError(main, error);
      message.textContent = error.message;
      message.hidden = false;
    }
    markReady("list");
  }

  function restart() {
    state.cursor = "";
    trail.length = 0;
    load();
  }

  prev.onclick = () => { state.cursor = trail.pop() || ""; load(); };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(state, {
      project: project.value, view: view.value, name: name.value.trim(), kind: kind.value,
      label: label.value.split(",").map((s) => s.trim()).filter(Boolean),
      has: has.value.split(",").map((s) => s.trim()).filter(Boolean),
      tag: tag.value.trim(), q: text.value.trim(),
      since: since.value.trim(), until: until.value.trim(),
    });
    restart();
  });
  form.addEventListener("reset", (event) => { // clear the search, keep the project
    event.preventDefault();
    for (const control of [name, text, kind, label, has, tag, since, until]) control.value = "";
    form.requestSubmit();
  });
  await load();
}
