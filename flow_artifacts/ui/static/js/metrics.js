// Metrics: a flat report of numbers as a key/value table, and each number across the versions
// of its report as a small line chart (SVG built element by element, values in its label).
import { api, artifactHref, h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 220;
const HEIGHT = 44;
const MAX_CHARTS = 12;

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  node.append(...children);
  return node;
}

const number = (v) => (Number.isInteger(v) ? v.toLocaleString()
  : Number(v.toPrecision(6)).toString());

export function metricsTable(values, caption, attrs = {}) {
  return h("div", { class: "scroll" }, h("table", { class: "grid metrics", ...attrs },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Metric"),
      h("th", { scope: "col", class: "num" }, "Value"))),
    h("tbody", {}, Object.entries(values).map(([k, v]) => h("tr", {},
      h("th", { scope: "row" }, k), h("td", { class: "num" }, number(v)))))));
}

// One metric over versions: points joined by a line, the current version marked.
function chart(key, points, currentId) {
  const values = points.map((p) => p.value);
  const [low, high] = [Math.min(...values), Math.max(...values)];
  const x = (i) => (points.length === 1 ? WIDTH / 2 : 6 + (i * (WIDTH - 12)) / (points.length - 1));
  const y = (v) => (high === low ? HEIGHT / 2 : HEIGHT - 6 - ((v - low) * (HEIGHT - 12)) / (high - low));
  const label = `${key} across versions: ` +
    points.map((p) => `v${p.version} ${number(p.value)}`).join(", ");
  return svg("svg", { width: WIDTH, height: HEIGHT, viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img", "aria-label": label, class: "spark" },
  svg("title", {}, label),
  svg("polyline", { points: points.map((p, i) => `${x(i)},${y(p.value)}`).join(" "),
    fill: "none", stroke: "#1d4ed8", "stroke-width": 1.5 }),
  ...points.map((p, i) => svg("circle", { cx: x(i), cy: y(p.value),
    r: p.id === currentId ? 4 : 2.5, fill: p.id === currentId ? "#b45309" : "#1d4ed8" })));
}

export async function reportMetrics(a) {
  const found = await api(`/api/metrics/${a.id}`);
  if (!found.metrics) return null;
  const keys = Object.keys(found.metrics).slice(0, MAX_CHARTS);
  const rows = keys.map((key) => {
    const points = found.versions.filter((v) => typeof v.metrics[key] === "number")
      .map((v) => ({ id: v.id, version: v.version, value: v.metrics[key] }));
    return h("tr", {}, h("th", { scope: "row" }, key),
      h("td", { class: "num" }, number(found.metrics[key])),
      h("td", {}, points.length > 1 ? chart(key, points, a.id)
        : h("span", { class: "muted" }, "one version")));
  });
  return [metricsTable(found.metrics, "Metrics of this report", { id: "metrics" }),
    h("div", { class: "scroll" }, h("table", { class: "grid", id: "metrics-history" },
      h("caption", {}, `Across the latest ${found.versions.length} versions (oldest left)`),
      h("thead", {}, h("tr", {}, ["Metric", "This version", "Versions"].map((c) =>
        h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows)))];
}

export function modelMetrics(list) {
  if (!list.length) {
    return h("p", { class: "muted" }, "No metrics reports beside it or made from it.");
  }
  return list.map((r) => [h("h3", {}, h("a", { href: artifactHref(r.id) }, r.ref),
    h("span", { class: "muted" }, ` (${r.relation})`)), metricsTable(r.metrics, `Metrics of ${r.ref}`)]);
}
