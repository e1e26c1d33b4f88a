// Runs, newest first, filtered by project, status, pipeline and start time, a page at a time.
import { api, duration, h, markReady, runHref, when } from "./dom.js";

const STATUSES = ["running", "completed", "failed", "crashed", "external"];

function row(r) {
  const seconds = r.ended ? (new Date(r.ended) - new Date(r.started)) / 1000 : null;
  return h("tr", {},
    h("td", {}, h("a", { href: runHref(r.project, r.run_id), title: r.run_id, class: "mono" },
      r.run_id.slice(0, 8))),
    h("td", {}, r.project), h("td", {}, r.name || ""), h("td", {}, r.pipeline || ""),
    h("td", {}, h("span", { class: `status status-${r.status}` }, r.status)),
    h("td", {}, when(r.started)), h("td", {}, duration(seconds)));
}

export async function render(main, info) {
  const query = new URLSearchParams(location.search);
  const fallback = info.projects.includes(info.default_project) ? info.default_project : "";
  const filters = {
    project: query.has("project") ? query.get("project") : fallback,
    status: STATUSES.includes(query.get("status")) ? query.get("status") : "",
    pipeline: query.get("pipeline") || "",
    since: query.get("since") || "",
    until: query.get("until") || "",
  };
  const select = (id, name, options, label) => [h("label", { for: id }, label),
    h("select", { id, name }, h("option", { value: "" }, `Any ${label.toLowerCase()}`),
      options.map((o) => h("option", { value: o, selected: o === filters[name] }, o)))];
  const form = h("form", { class: "toolbar", method: "get", action: "/runs" },
    select("r-project", "project", info.projects, "Project"),
    select("r-status", "status", STATUSES, "Status"),
    h("label", { for: "r-pipeline" }, "Pipeline"),
    h("input", { id: "r-pipeline", name: "pipeline", value: filters.pipeline, size: 16 }),
    // Typed as on the command line (2d, 3h, yesterday, 2026-05-01); the server reads them.
    h("label", { for: "r-since" }, "Started from"),
    h("input", { id: "r-since", name: "since", value: filters.since, size: 12,
      placeholder: "2d, yesterday" }),
    h("label", { for: "r-until" }, "Started before"),
    h("input", { id: "r-until", name: "until", value: filters.until, size: 12,
      placeholder: "2026-05-01" }),
    h("button", { type: "submit" }, "Filter"));
  const body = h("tbody");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More runs");
  let cursor = null;
  const load = async () => {
    const page = await api("/api/runs", { ...filters, limit: 50, cursor });
    body.append(...page.items.map(row));
    if (!body.children.length) {
      body.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No runs.")));
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener("click", async () => { await load(); markReady("runs"); });
  await load();
  main.replaceChildren(
    h("h1", {}, "Runs"), form,
    h("table", { class: "grid", id: "runs" }, h("caption", { class: "visually-hidden" }, "Runs"),
      h("thead", {}, h("tr", {}, ["Run", "Project", "Name", "Pipeline", "Status", "Started",
        "Duration"].map((c) => h("th", { scope: "col" }, c)))), body),
    more);
  markReady("runs");
}
