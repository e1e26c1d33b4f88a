// Two artifacts side by side (/compare?a=REF&b=REF), or two runs (/compare?runs=1&a=&b=): record fields, schema changes, labels,
// tags, metadata, aspects, producing step and parameters, and a JSON report's content, as
// /api/compare (the same comparison as `flow-artifacts diff`) finds them.
import { api, artifactHref, duration, h, markReady, runHref, when } from "./dom.js";

const MARK = { added: "+", removed: "−", changed: "~" };

function shown(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function signed(delta) {
  if (delta === undefined || delta === null) return "";
  return delta > 0 ? `+${delta}` : String(delta);
}

function grid(caption, columns, rows) {
  return h("div", { class: "scroll" }, h("table", { class: "grid" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows)));
}

function section(title, ...content) {
  const id = `c-${title.toLowerCase().replace(/\W+/g, "-")}`;
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

function changes(title, found) {
  if (!found) return null;
  if (found.same || (!found.changes.length && !found.note)) {
    return section(title, h("p", { class: "muted" }, "No changes."));
  }
  return section(title,
    grid(title, ["", "Path", "A", "B", "Delta"], found.changes.map((c) => h("tr",
      { class: `change-${c.change}` },
      h("td", { "aria-label": c.change, title: c.change }, MARK[c.change]),
      h("th", { scope: "row" }, h("code", {}, c.path)),
      h("td", {}, shown(c.a)), h("td", {}, shown(c.b)), h("td", { class: "num" }, signed(c.delta))))),
    found.note ? h("p", { class: "muted" }, found.note) : null,
    found.truncated && !found.note ? h("p", { class: "muted" }, "More changes not shown.") : null);
}

function schema(s) {
  if (!s) return null;
  const rows = [
    ...s.added.map((c) => ["added", c.name, "", c.type]),
    ...s.removed.map((c) => ["removed", c.name, c.type, ""]),
    ...s.retyped.map((c) => ["changed", c.name, c.a, c.b]),
  ];
  if (!rows.length) return section("Schema", h("p", { class: "muted" }, "Same columns and types."));
  return section("Schema", grid("Schema changes", ["", "Column", "Type in A", "Type in B"],
    rows.map(([change, name, a, b]) => h("tr", { class: `change-${change}` },
      h("td", { "aria-label": change, title: change }, MARK[change]),
      h("th", { scope: "row" }, name), h("td", {}, a), h("td", {}, b)))));
}

// A value in A and B: once when equal, else "a → b".
function both(a, b) {
  const [x, y] = [shown(a), shown(b)];
  return x === y ? x : `${x || "–"} → ${y || "–"}`;
}

function columnStats(rows) {
  if (!rows) return null;
  const cells = (r, key) => h("td", r.a && r.b && shown(r.a[key]) !== shown(r.b[key])
    ? { class: "changed" } : {}, both((r.a || {})[key], (r.b || {})[key]),
  r.delta[key] ? h("span", { class: "muted" }, ` (${signed(r.delta[key])})`) : null);
  return section("Column statistics", grid("Column statistics",
    ["Column", "Nulls", "Distinct", "Min", "Max"], rows.map((r) => h("tr",
      r.same ? {} : { class: "change-changed" },
      h("th", { scope: "row" }, r.name, !r.a ? " (only in B)" : !r.b ? " (only in A)" : ""),
      ["nulls", "distinct", "min", "max"].map((key) => cells(r, key))))));
}

function picker(a, b, runs) {
  const input = (name, value) => [h("label", { for: `cmp-${name}` }, name.toUpperCase()),
    h("input", { id: `cmp-${name}`, name, value, class: "mono", size: 30 })];
  return h("form", { class: "toolbar", method: "get", action: "/compare" },
    runs ? h("input", { type: "hidden", name: "runs", value: "1" }) : null,
    input("a", a), input("b", b), h("button", { type: "submit" }, "Compare"));
}

async function renderRuns(main, a, b) {
  const d = await api("/api/compare", { runs: "1", a, b });
  const name = (r) => `${r.project}/${r.run_id}`;
  const link = (r) => h("a", { href: runHref(r.project, r.run_id), class: "mono" },
    `${r.project}/${r.run_id.slice(0, 8)}`);
  document.title = `Runs ${name(d.a)} vs ${name(d.b)} · flow-artifacts`;
  const shownField = (f, v) => (f.field === "duration_s" ? duration(v) : shown(v));
  const side = (s) => (s ? [h("span", { class: `status status-${s.status}` }, s.status), " ",
    duration(s.duration_s)] : h("span", { class: "muted" }, "not run"));
  main.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/runs" }, "Runs"),
      " / compare"),
    h("h1", {}, "Compare run ", link(d.a), " with ", link(d.b)),
    picker(name(d.a), name(d.b), true),
    section("Run", grid("Run fields", ["Field", "A", "B", "Change"], d.fields.map((f) =>
      h("tr", f.same ? {} : { class: "change-changed" }, h("th", { scope: "row" }, f.field),
        h("td", {}, shownField(f, f.a)), h("td", {}, shownField(f, f.b)),
        h("td", { class: "num" }, f.same ? "" : f.field === "duration_s"
          ? `${f.delta > 0 ? "+" : ""}${duration(Math.abs(f.delta))}` : "changed"))))),
    section("Steps", grid("Steps", ["Step", "A", "B", "Changed"], d.steps.map((s) =>
      h("tr", { id: `cmp-step-${s.step}` }, h("th", { scope: "row" }, s.step),
        h("td", {}, side(s.a)), h("td", {}, side(s.b)),
        h("td", {}, ["params", "outputs"].filter((k) => s[k] && s[k].changes.length)
          .join(", ")))))),
    ...d.steps.flatMap((s) => ["params", "outputs"].filter((k) => s[k] && s[k].changes.length)
      .map((k) => changes(`${s.step}: ${k === "params" ? "parameters" : "outputs"}`, s[k]))));
  markReady("compare");
}

export async function render(main) {
  const query = new URLSearchParams(location.search);
  const [a, b] = [query.get("a") || "", query.get("b") || ""];
  const runs = query.get("runs") === "1";
  if (!a || !b) {
    main.replaceChildren(h("h1", {}, "Compare"),
      h("p", {}, runs ? "Give two runs as project/run-id (or a unique start of the id)."
        : "Give two artifacts as project/name@version, or pick “compare” in a versions table."),
      picker(a, b, runs));
    markReady("compare");
    return;
  }
  if (runs) {
    await renderRuns(main, a, b);
    return;
  }
  const d = await api("/api/compare", { a, b });
  document.title = `${d.a.ref} vs ${d.b.ref} · flow-artifacts`;
  const link = (side) => h("a", { href: artifactHref(side.id) }, side.ref);
  const p = d.producer;
  const step = (s) => (s ? `${s.step} in run ${s.run_id.slice(0, 8)}${s.status ? ` (${s.status})` : ""}` : "");
  main.replaceChildren(...[
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/" }, "Artifacts"),
      " / compare"),
    h("h1", {}, "Compare ", link(d.a), " with ", link(d.b)),
    picker(d.a.ref, d.b.ref),
    section("Record", grid("Record fields", ["Field", "A", "B", "Change"], [
      ...d.fields.map((f) => h("tr", f.same ? {} : { class: "change-changed" },
        h("th", { scope: "row" }, f.field), h("td", {}, shown(f.a)), h("td", {}, shown(f.b)),
        h("td", { class: "num" }, f.same ? "" : signed(f.delta) || "changed"))),
      h("tr", {}, h("th", { scope: "row" }, "created"), h("td", {}, when(d.a.created)),
        h("td", {}, when(d.b.created)), h("td", {}, "")),
      h("tr", {}, h("th", { scope: "row" }, "tags"), h("td", {}, d.tags.a.join(", ")),
        h("td", {}, d.tags.b.join(", ")),
        h("td", {}, shown(d.tags.a) === shown(d.tags.b) ? "" : "changed")),
      h("tr", {}, h("th", { scope: "row" }, "produced by"), h("td", {}, step(p.a)),
        h("td", {}, step(p.b)), h("td", {}, shown(p.a) === shown(p.b) ? "" : "changed")),
    ])),
    schema(d.schema),
    columnStats(d.column_stats),
    d.content ? changes("Content", d.content) : null,
    changes("Parameters", d.params),
    changes("Labels", d.labels),
    changes("User metadata", d.user_metadata),
    changes("Aspects", d.aspects),
  ].filter(Boolean));
  markReady("compare");
}
