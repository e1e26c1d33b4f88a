// One run: its steps with status, duration, cache hits, inputs and outputs, and the error and
// traceback of a failed step. A step named in the URL fragment (#step-<id>, where the lineage
// graph links to) is highlighted and scrolled to.
import {
  api, artifactLink, duration, h, jsonBlock, markReady, stepHref, when,
} from "./dom.js";

function artifacts(list) {
  if (!list.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "plain" }, list.map((a) => h("li", {}, artifactLink(a))));
}

// A failed step's error under its row: the message, and its traceback folded.
function failureRow(s) {
  return h("tr", { class: "failure", id: `failure-${s.id}` }, h("td", { colspan: 7 },
    h("p", { class: "error" }, `Step ${s.step} failed:`),
    h("pre", { class: "code", "aria-label": `Error of step ${s.step}` }, s.error_message),
    s.traceback ? h("details", {}, h("summary", {}, "Traceback"),
      h("pre", { class: "code", "aria-label": `Traceback of step ${s.step}` }, s.traceback))
      : null));
}

function stepRows(s) {
  return s.error ? [stepRow(s), failureRow(s)] : stepRow(s);
}

function stepRow(s) {
  return h("tr", { id: `step-${s.id}` },
    h("th", { scope: "row" }, s.step),
    h("td", {}, h("span", { class: `status status-${s.status}` }, s.status)),
    h("td", { class: "num" }, duration(s.duration_s)),
    h("td", {}, s.cached ? [h("span", { class: "badge hit" }, "cache hit"), s.reused_from
      ? h("div", { class: "muted" }, "reused ", h("a", { href: stepHref(s.reused_from) },
        `run ${s.reused_from.run_id}`)) : null] : "no"),
    h("td", {}, artifacts(s.inputs)),
    h("td", {}, artifacts(s.outputs)),
    h("td", {}, Object.keys(s.params || {}).length
      ? h("details", {}, h("summary", {}, "params"), jsonBlock(s.params)) : ""));
}

// Each step as a bar on the run's time axis: where it started, how long it took, its status.
function timeline(run) {
  const times = run.steps.flatMap((s) => [s.started, s.ended]).concat([run.started, run.ended])
    .filter(Boolean).map((t) => new Date(t).getTime());
  if (!run.steps.length || !times.length) return null;
  const [start, end] = [Math.min(...times), Math.max(...times)];
  const span = Math.max(end - start, 1);
  return h("ol", { class: "timeline", id: "timeline", "aria-label": "Timeline of the steps" },
    run.steps.map((s) => {
      const from = new Date(s.started).getTime() - start;
      const to = (s.ended ? new Date(s.ended).getTime() : end) - start;
      return h("li", {}, h("span", { class: "timeline-name" }, s.step),
        h("span", { class: "timeline-track" }, h("span", {
          class: `timeline-bar status-bg-${s.status}${s.cached ? " cached" : ""}`,
          style: `left: ${(100 * from) / span}%; width: ${Math.max((100 * (to - from)) / span, 0.5)}%`,
          title: `${s.step}: ${s.status}, ${duration(s.duration_s) || "running"}`,
        })), h("span", { class: "muted timeline-time" },
          `${s.status}${s.cached ? " (cache hit)" : ""} · +${duration(from / 1000) || "0 ms"} · ` +
          `${duration(s.duration_s) || "running"}`));
    }));
}

export async function render(main, info, project, runId) {
  const run = await api(`/api/runs/${encodeURIComponent(project)}/${encodeURIComponent(runId)}`);
  document.title = `Run ${run.run_id} · flow-artifacts`;
  main.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/runs" }, "Runs"),
      " / ", h("a", { href: `/runs?project=${encodeURIComponent(run.project)}` }, run.project)),
    h("h1", {}, "Run ", h("span", { class: "mono" }, run.run_id)),
    h("dl", { class: "fields" },
      [["Status", h("span", { class: `status status-${run.status}` }, run.status)],
        ["Name", run.name], ["Pipeline", run.pipeline], ["Started", when(run.started)],
        ["Ended", when(run.ended)], ["Duration", duration(run.duration_s)],
        ["Cache hits", `${run.cache_hits} of ${run.steps.length} steps`],
        ["Error", run.error ? h("pre", { class: "code" }, run.error) : null]]
        .filter(([, v]) => v !== null && v !== undefined && v !== "")
        .map(([t, v]) => [h("dt", {}, t), h("dd", {}, v)])),
    h("form", { class: "toolbar", method: "get", action: "/compare" },
      h("input", { type: "hidden", name: "runs", value: "1" }),
      h("input", { type: "hidden", name: "a", value: `${run.project}/${run.run_id}` }),
      h("label", { for: "compare-run" }, "Compare with run"),
      h("input", { id: "compare-run", name: "b", class: "mono", size: 24, required: true,
        placeholder: "project/run-id" }),
      h("button", { type: "submit" }, "Compare")),
    ...(run.steps.length ? [h("h2", {}, "Timeline"), timeline(run)] : []),
    h("h2", {}, "Steps"),
    h("div", { class: "scroll" }, h("table", { class: "grid", id: "steps" },
      h("caption", { class: "visually-hidden" }, "Steps of this run"),
      h("thead", {}, h("tr", {}, ["Step", "Status", "Duration", "Cache", "Inputs", "Outputs",
        "Parameters"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, run.steps.length ? run.steps.map(stepRows)
        : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No steps recorded."))))));
  const target = location.hash && document.getElementById(location.hash.slice(1));
  if (target) {
    target.classList.add("target");
    target.setAttribute("aria-current", "step");
    target.scrollIntoView({ block: "center" });
  }
  markReady("run");
}
