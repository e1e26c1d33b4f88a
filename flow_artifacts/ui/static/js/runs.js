// Recent runs of a project, as a table linking to each run.
import { api, duration, h, markReady, runHref, when } from "./dom.js";

export async function render(main, info) {
  const query = new URLSearchParams(location.search);
  const fallback = info.projects.includes(info.default_project) ? info.default_project : "";
  const project = query.has("project") ? query.get("project") : fallback;
  const select = h("select", { id: "r-project", onchange: (e) => {
    location.search = `?project=${encodeURIComponent(e.target.value)}`;
  } }, h("option", { value: "" }, "All projects"),
  info.projects.map((p) => h("option", { value: p, selected: p === project }, p)));
  const runs = await api("/api/runs", { project, limit: 100 });
  const seconds = (r) => (r.ended ? (new Date(r.ended) - new Date(r.started)) / 1000 : null);
  main.replaceChildren(
    h("h1", {}, "Runs"),
    h("div", { class: "toolbar" }, h("label", { for: "r-project" }, "Project"), select),
    h("table", { class: "grid" }, h("caption", { class: "visually-hidden" }, "Recent runs"),
      h("thead", {}, h("tr", {}, ["Run", "Project", "Name", "Pipeline", "Status", "Started",
        "Duration"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, runs.length ? runs.map((r) => h("tr", {},
        h("td", {}, h("a", { href: runHref(r.project, r.run_id) }, r.run_id)),
        h("td", {}, r.project), h("td", {}, r.name || ""), h("td", {}, r.pipeline || ""),
        h("td", {}, h("span", { class: `status status-${r.status}` }, r.status)),
        h("td", {}, when(r.started)), h("td", {}, duration(seconds(r)))))
        : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No runs.")))));
  markReady("runs");
}
