// One artifact: identity with copy buttons, every recorded field, labels, metadata, a preview,
// the versions of its name with their tags, download, lineage and (if allowed) edits and delete.
import {
  announce, api, artifactHref, artifactLink, chips, copyField, duration, h, jsonBlock,
  markReady, runHref, size, stepHref, when,
} from "./dom.js";
import { editor } from "./edit.js";
import { modelMetrics, reportMetrics } from "./metrics.js";
import { previewOf } from "./preview.js";

function section(title, ...content) {
  const id = `s-${title.toLowerCase().replace(/\W+/g, "-")}`;
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

function fields(rows) {
  return h("dl", { class: "fields" },
    rows.filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function versionsTable(a, versions) {
  const body = h("tbody");
  const more = h("button", { type: "button", class: "secondary" }, "More versions");
  const add = (page) => {
    body.append(...page.items.map((v) => h("tr", v.id === a.id ? { "aria-current": "true",
      class: "current" } : {},
    h("td", { class: "num", "data-label": "Version" },
      h("a", { href: artifactHref(v.id) }, v.version)),
    h("td", { "data-label": "Created" }, when(v.created)),
    h("td", { class: "num", "data-label": "Size" }, size(v.size)),
    h("td", { "data-label": "Run" }, h("a", { href: runHref(v.project, v.run_id),
      title: v.run_id }, v.run_id.slice(0, 8))),
    h("td", { "data-label": v.tags.length ? "Tags" : null },
      v.tags.map((t) => h("span", { class: "tag" }, t))),
    h("td", {}, v.id === a.id ? "" : h("a", { href: compareHref(v, a),
      "aria-label": `Compare version ${v.version} with ${a.version}` }, "compare")))));
    more.hidden = !page.next_cursor;
    more.onclick = async () => add(await api(`/api/versions/${a.id}`, { cursor: page.next_cursor }));
  };
  add(versions);
  return [h("table", { class: "grid cards" },
    h("caption", { class: "visually-hidden" }, "Versions"),
    h("thead", {}, h("tr", {}, ["Version", "Created", "Size", "Run", "Tags", "Compare"].map((c) =>
      h("th", { scope: "col" }, c)))), body), more];
}

// Older version first, so "+" in the comparison reads as "added since".
function compareHref(one, other) {
  const [older, newer] = one.version < other.version ? [one, other] : [other, one];
  return `/compare?${new URLSearchParams({ a: older.id, b: newer.id })}`;
}

function producer(a) {
  const s = a.producer;
  if (!s) {
    return h("p", { class: "muted", title: a.run_id },
      `${a.run_id.slice(0, 8)} / ${a.step} (no step-run record)`);
  }
  return fields([
    ["Step", h("a", { href: stepHref(s) }, s.step)],
    ["Run", h("a", { href: runHref(s.project, s.run_id), title: s.run_id }, s.run_id.slice(0, 8))],
    ["Status", h("span", { class: `status status-${s.status}` }, s.status)],
    ["Cache", s.cached ? "hit (reused an earlier result)" : "miss"],
    ["Duration", duration(s.duration_s)],
    ["Parameters", Object.keys(s.params || {}).length ? h("table", { class: "grid", id: "params" },
      h("caption", { class: "visually-hidden" }, "Parameters of the producing step"),
      h("tbody", {}, Object.entries(s.params).map(([k, v]) => h("tr", {},
        h("th", { scope: "row" }, k), h("td", { class: "mono" },
          typeof v === "string" ? v : JSON.stringify(v))))))
      : h("span", { class: "muted" }, "none")],
  ]);
}

// How to read it back, to copy: in Python, and with the command line.
function loadSnippets(a) {
  return [copyField("Load in Python", `fa.load("${a.uri}")`),
    copyField("Get with the CLI", `flow-artifacts get ${a.uri}`)];
}

function deleteButton(a) {
  const button = h("button", { type: "button", class: "danger" }, "Delete this version");
  button.addEventListener("click", async () => {
    if (!window.confirm(`Delete ${a.uri}? Its bytes are removed from the store.`)) return;
    try {
      await api(`/api/artifacts/${a.id}`, {}, "DELETE");
      location.href = "/";
    } catch (error) {
      announce(error.message);
      button.after(h("p", { class: "error", role: "alert" }, error.message));
    }
  });
  return button;
}

export async function render(main, info, ref) {
  const a = await api(`/api/artifacts/${ref}`);
  document.title = `${a.name}@${a.version} · flow-artifacts`;
  const previewBox = h("div", { class: "preview", "aria-busy": "true" }, "Loading preview…");
  const download = a.downloadable
    ? h("a", { class: "button", href: `/api/content/${a.id}`, download: "" }, "Download")
    : h("a", { class: "button", href: `/api/archive/${a.id}`, download: "" }, "Download as zip");
  main.replaceChildren(...[
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/" }, "Artifacts"),
      " / ", h("a", { href: `/?project=${encodeURIComponent(a.project)}` }, a.project)),
    h("h1", {}, `${a.name}`, h("span", { class: "muted" }, `@${a.version}`), " ",
      h("span", { class: `kind kind-${a.kind}` }, a.kind),
      a.tags.map((t) => h("span", { class: "tag" }, t))),
    a.description ? h("p", { class: "lead" }, a.description) : null,
    h("div", { class: "toolbar" }, download,
      h("a", { class: "button secondary", href: `/lineage/${a.id}` }, "Lineage graph"),
      info.allow_delete ? deleteButton(a) : null),
    h("div", { class: "copies" }, copyField("URI", a.uri), copyField("URN", a.urn),
      copyField("Checksum", a.checksum), loadSnippets(a)),
    section("Preview", previewBox),
    section("Record", fields([
      ["ID", h("code", {}, a.id)], ["Project", a.project], ["Name", a.name],
      ["Version", a.version], ["Status", a.status], ["Kind", a.kind],
      ["Materializer", `${a.materializer} (format ${a.materializer_version})`],
      ["MIME type", a.mime_type], ["Size", `${size(a.size)} (${a.size.toLocaleString()} bytes)`],
      ["Created", when(a.created)], ["Run",
        h("a", { href: runHref(a.project, a.run_id), title: a.run_id }, a.run_id.slice(0, 8))],
      ["Step", a.step], ["Pipeline", a.pipeline], ["Step run", a.step_run_id],
      ["Key", h("code", {}, a.key)], ["Data path", h("code", {}, a.data_path)],
      ["Location", h("code", {}, a.path)], ["Directory", a.directory ? "yes" : "no"],
      ["Inputs", a.input_artifacts.length ? h("ul", { class: "plain", id: "inputs" },
        a.input_artifacts.map((i) => h("li", {}, artifactLink(i)))) : null],
      ["Written with", Object.entries(a.libraries).map(([k, v]) => `${k} ${v}`).join(", ")],
    ])),
    section("Labels", chips(a.labels) || h("p", { class: "muted" }, "No labels.")),
    info.allow_delete ? editor(a, async (message) => {
      await render(main, info, a.id);
      document.getElementById("edit-status").textContent = message;
      announce(message);
    }) : null,
    section("Produced by", producer(a)),
    a.kind === "model" ? section("Metrics", modelMetrics(a.metrics)) : null,
    a.kind === "report" && a.mime_type === "application/json"
      ? h("section", { "aria-labelledby": "s-metrics", id: "report-metrics", hidden: true },
        h("h2", { id: "s-metrics" }, "Metrics")) : null,
    section("Used by", a.used_by.length
      ? [h("ul", { class: "plain", id: "used-by" }, a.used_by.map((u) => h("li", {},
        artifactLink(u)))), a.used_by_count > a.used_by.length
        ? h("p", { class: "muted" }, `and ${a.used_by_count - a.used_by.length} more`) : null]
      : h("p", { class: "muted" }, "Nothing recorded was made from it.")),
    section("Metadata",
      h("details", {}, h("summary", {}, "Format metadata (what the materializer recorded)"),
        jsonBlock(a.metadata)),
      h("h3", {}, "User metadata"), jsonBlock(a.user_metadata),
      h("h3", {}, "Aspects"), Object.keys(a.aspects).length
        ? Object.entries(a.aspects).map(([name, body]) => [h("h4", {}, name), jsonBlock(body)])
        : h("p", { class: "muted" }, "No metadata aspects.")),
    section(`Versions of ${a.name}`, versionsTable(a, a.versions)),
  ].filter(Boolean));
  try {
    previewBox.replaceChildren(...[previewOf(await api(`/api/preview/${a.id}`))].flat()
      .filter(Boolean));
  } catch (error) {
    previewBox.replaceChildren(h("p", { class: "error", role: "alert" }, error.message));
  }
  previewBox.removeAttribute("aria-busy");
  const metricsBox = document.getElementById("report-metrics");
  if (metricsBox) {
    const shown = await reportMetrics(a).catch(() => null);
    if (shown) {
      metricsBox.append(...shown);
      metricsBox.hidden = false;
    }
  }
  markReady("artifact");
}
