// The lineage graph of one artifact: what it came from and what was made from it, drawn with
// the vendored Cytoscape.js. Every node is clickable; the same links are listed below the
// graph for keyboard and screen-reader users.
import { api, artifactHref, h, markReady, stepHref } from "./dom.js";

const DEPTHS = ["1", "2", "3", "5", "10", "all"];
const STYLE = [
  { selector: "node", style: {
    label: "data(text)", "text-wrap": "wrap", "font-size": 12, "text-valign": "center", "text-halign": "center",
    width: "label", height: "label", padding: "10px", "border-width": 1.5, color: "#0f172a" } },
  { selector: "node[type = 'artifact']", style: {
    shape: "round-rectangle", "background-color": "#dbeafe", "border-color": "#1d4ed8" } },
  { selector: "node[type = 'step']", style: {
    shape: "round-tag", "background-color": "#fef3c7", "border-color": "#b45309" } },
  { selector: "node[?cached]", style: { "border-style": "dashed" } },
  { selector: "node[status = 'failed'], node[status = 'crashed']", style: { "border-color": "#b91c1c", "border-width": 3 } },
  { selector: "node[?root]", style: {
    "background-color": "#1d4ed8", color: "#ffffff", "border-color": "#1e3a8a", "border-width": 3 } },
  { selector: "edge", style: {
    width: 1.5, "line-color": "#64748b", "target-arrow-color": "#64748b",
    "target-arrow-shape": "triangle", "curve-style": "bezier" } },
];

function loadCytoscape() {
  if (window.cytoscape) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = h("script", { src: "/static/vendor/cytoscape.min.js" });
    script.onload = resolve;
    script.onerror = () => reject(new Error("could not load the graph library"));
    document.head.append(script);
  });
}

const hrefOf = (node) => (node.type === "artifact" ? artifactHref(node.id) : stepHref(node));

function nodeList(graph) {
  const item = (n) => h("li", {}, h("a", { href: hrefOf(n) },
    n.type === "artifact" ? `${n.project}/${n.label}` : `step ${n.label} of run ${n.run_id}`),
  n.root ? " (this artifact)" : "", n.cached ? " (cache hit)" : "");
  return h("details", { class: "node-list" },
    h("summary", {}, `All ${graph.nodes.length} nodes as a list`),
    h("ul", {}, graph.nodes.map(item)));
}

export async function render(main, info, ref) {
  const query = new URLSearchParams(location.search);
  const depth = DEPTHS.includes(query.get("depth")) ? query.get("depth") : "3";
  const [art, graph] = await Promise.all([
    api(`/api/artifacts/${ref}`), api(`/api/lineage/${ref}`, { depth }), loadCytoscape(),
  ]);
  document.title = `Lineage of ${art.name}@${art.version} · flow-artifacts`;
  const select = h("select", { id: "depth", onchange: (e) => {
    location.search = `?depth=${e.target.value}`;
  } }, DEPTHS.map((d) => h("option", { value: d, selected: d === depth }, d)));
  const steps = graph.nodes.filter((n) => n.type === "step").length;
  const box = h("div", { id: "graph", class: "graph", role: "img",
    "aria-label": `Lineage graph: ${graph.nodes.length - steps} artifacts and ${steps} step ` +
      "runs. The same nodes are listed below the graph." });
  main.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/" }, "Artifacts"),
      " / ", h("a", { href: artifactHref(art.id) }, `${art.name}@${art.version}`)),
    h("h1", {}, "Lineage of ", h("a", { href: artifactHref(art.id) }, `${art.name}@${art.version}`)),
    h("div", { class: "toolbar" }, h("label", { for: "depth" }, "Step hops each way"), select,
      h("span", { class: "legend" }, h("span", { class: "swatch artifact" }), "artifact",
        h("span", { class: "swatch step" }), "step run (dashed: cache hit)")),
    h("p", { class: "muted" }, "Data flows downward. Click a node to open it."),
    box, nodeList(graph));
  const cy = window.cytoscape({
    container: box,
    elements: [
      ...graph.nodes.map((n) => ({ data: { ...n, href: hrefOf(n),
        text: n.type === "step" ? `${n.label}\nrun ${n.run_id.slice(0, 8)}` : n.label } })),
      ...graph.edges.map((e) => ({ data: { id: `${e.source}>${e.target}`, ...e } })),
    ],
    style: STYLE,
    autoungrabify: true,
    boxSelectionEnabled: false,
    maxZoom: 2,
  });
  const roots = cy.nodes().filter((n) => n.indegree() === 0);
  cy.layout({ name: "breadthfirst", directed: true, roots, spacingFactor: 1.1,
    avoidOverlap: true, padding: 24 }).run();
  cy.on("tap", "node", (event) => { location.href = event.target.data("href"); });
  cy.on("mouseover", "node", () => { box.style.cursor = "pointer"; });
  cy.on("mouseout", "node", () => { box.style.cursor = ""; });
  window.faGraph = cy; // for tests and the console: the drawn graph
  markReady("lineage");
}
