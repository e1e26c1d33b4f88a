// The lineage graph of one artifact: what it came from and what was made from it, drawn with
// the vendored Cytoscape.js. Every node is clickable; hovering one shows its card and lights its
// up- and downstream; right-clicking one (or its Focus button in the list) shows only that.
// The same links are listed below the graph for keyboard and screen-reader users.
import { announce, api, artifactHref, h, markReady, size, stepHref } from "./dom.js";

const DEPTHS = ["1", "2", "3", "5", "10", "all"];
const LAYER_GAP = 110; // vertical distance between layers, in graph units
const NODE_GAP = 40; // horizontal space between neighbours of a layer
const READABLE_ZOOM = 0.9; // 12 px labels stay >= 10 px high: never start smaller than this
const ZOOM_STEP = 1.25;
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
  { selector: ".faded", style: { opacity: 0.2 } },
  { selector: ".lit", style: { "line-color": "#1d4ed8", "target-arrow-color": "#1d4ed8",
    width: 2.5 } },
  { selector: ".away", style: { display: "none" } },
];

// A layered top-to-bottom layout: each node sits one layer below its lowest predecessor
// (longest path from the sources), so every edge points down; within a layer nodes are ordered
// by the mean position of their predecessors, which keeps most edges from crossing, in columns
// of one width so that a node sits straight under its predecessor.
export function layered(nodes, edges, widthOf) {
  const preds = new Map(nodes.map((n) => [n.id, []]));
  const succs = new Map(nodes.map((n) => [n.id, []]));
  for (const e of edges) {
    if (preds.has(e.target) && succs.has(e.source)) {
      preds.get(e.target).push(e.source);
      succs.get(e.source).push(e.target);
    }
  }
  const layer = new Map();
  const indegree = new Map(nodes.map((n) => [n.id, preds.get(n.id).length]));
  const queue = nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  for (const id of queue) layer.set(id, 0);
  while (queue.length) { // Kahn's order: a node is placed once all its predecessors are
    const id = queue.shift();
    for (const next of succs.get(id)) {
      layer.set(next, Math.max(layer.get(next) || 0, layer.get(id) + 1));
      indegree.set(next, indegree.get(next) - 1);
      if (indegree.get(next) === 0) queue.push(next);
    }
  }
  for (const n of nodes) if (!layer.has(n.id)) layer.set(n.id, 0); // a cycle cannot happen
  const layers = [];
  for (const n of nodes) (layers[layer.get(n.id)] ||= []).push(n.id);
  const order = new Map();
  const positions = {};
  const slot = nodes.reduce((most, n) => Math.max(most, widthOf(n.id)), 0) + NODE_GAP;
  layers.forEach((ids, depth) => {
    const mean = (id) => {
      const known = preds.get(id).filter((p) => order.has(p)).map((p) => order.get(p));
      return known.length ? known.reduce((a, b) => a + b, 0) / known.length : 0;
    };
    ids.sort((a, b) => mean(a) - mean(b) || (a < b ? -1 : 1));
    ids.forEach((id, index) => {
      order.set(id, index - (ids.length - 1) / 2);
      positions[id] = { x: order.get(id) * slot, y: depth * LAYER_GAP };
    });
  });
  return positions;
}

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

function nodeText(n) {
  return n.type === "step"
    ? `${n.label}\nstep · ${n.project} · run ${n.run_id.slice(0, 8)}`
    : `${n.label}\n${n.project} · ${n.kind}`;
}

// Where the graph opens: all of it if that keeps labels readable, else readable around the
// artifact the page is about (the controls fit the rest).
function initialView(cy) {
  cy.fit(undefined, 24);
  if (cy.zoom() >= READABLE_ZOOM) return;
  cy.zoom(READABLE_ZOOM);
  cy.center(cy.nodes("[?root]"));
}

// A node with everything upstream and downstream of it.
const reach = (node) => node.predecessors().union(node.successors()).union(node);

// What the hover card says of a node: its name and the facts of the record.
function cardLines(n) {
  if (n.type === "step") {
    return [`step ${n.label}`, `run ${n.run_id}`, `project ${n.project}`,
      `status ${n.status}${n.cached ? " (cache hit)" : ""}`];
  }
  const labels = Object.entries(n.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  return [n.ref, `${n.kind} · ${size(n.size)}`, `made by ${n.step} in run ${n.run_id.slice(0, 8)}`,
    `created ${n.created.slice(0, 19).replace("T", " ")} UTC`, labels ? `labels ${labels}` : null]
    .filter(Boolean);
}

// On hover: the card beside the node, and its up- and downstream lit, the rest faded.
function hoverCard(cy, frame) {
  const card = h("div", { class: "hover-card", role: "tooltip", id: "hover-card", hidden: true });
  frame.append(card);
  cy.on("mouseover", "node", (event) => {
    const node = event.target;
    const lit = reach(node);
    cy.elements().not(lit).addClass("faded");
    lit.edges().addClass("lit");
    card.replaceChildren(...cardLines(node.data()).map((line, i) =>
      h(i ? "div" : "strong", {}, line)));
    const box = node.renderedBoundingBox();
    card.hidden = false;
    const left = Math.min(box.x2 + 8, cy.width() - card.offsetWidth - 4);
    card.style.left = `${Math.max(left, 4)}px`;
    card.style.top = `${Math.max(Math.min(box.y1, cy.height() - card.offsetHeight - 4), 4)}px`;
    frame.style.cursor = "pointer";
  });
  cy.on("mouseout", "node", () => {
    card.hidden = true;
    cy.elements().removeClass("faded lit");
    frame.style.cursor = "";
  });
}

// Shows only `id` and its up- and downstream (none: everything again), and fits them.
function focuser(cy, note) {
  return (id) => {
    cy.elements().removeClass("away faded lit");
    document.getElementById("hover-card").hidden = true;
    if (!id) {
      note.hidden = true;
      initialView(cy);
      announce("Showing the whole graph.");
      return;
    }
    const node = cy.getElementById(id);
    cy.elements().not(reach(node)).addClass("away");
    cy.fit(reach(node), 24);
    if (cy.zoom() < READABLE_ZOOM) {
      cy.zoom(READABLE_ZOOM);
      cy.center(node);
    }
    const text = `Showing only what ${node.data("label")} came from and what was made from it.`;
    note.hidden = false;
    note.firstChild.textContent = `${text} `;
    announce(text);
  };
}

function controls(cy) {
  const zoomBy = (factor) => cy.zoom({ level: cy.zoom() * factor,
    renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
  return h("div", { class: "toolbar graph-controls", role: "group", "aria-label": "Graph view" },
    h("button", { type: "button", class: "secondary", onclick: () => zoomBy(ZOOM_STEP) }, "Zoom in"),
    h("button", { type: "button", class: "secondary", onclick: () => zoomBy(1 / ZOOM_STEP) },
      "Zoom out"),
    h("button", { type: "button", class: "secondary", onclick: () => cy.fit(undefined, 24) },
      "Fit all"),
    h("button", { type: "button", class: "secondary", onclick: () => initialView(cy) },
      "Reset view"));
}

function nodeList(graph, focus) {
  const item = (n) => h("li", {}, h("a", { href: hrefOf(n), title: n.run_id || "" },
    n.type === "artifact" ? `${n.project}/${n.label}`
      : `step ${n.label} of run ${n.run_id.slice(0, 8)}`),
  n.root ? " (this artifact)" : "", n.cached ? " (cache hit)" : "", " ",
  h("button", { type: "button", class: "secondary small", onclick: () => focus(n.id),
    "aria-label": `Focus on ${n.type === "artifact" ? n.ref : `step ${n.label}`}` }, "Focus"));
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
  const frame = h("div", { class: "graph-frame" }, box);
  const clear = h("button", { type: "button", class: "secondary" }, "Show the whole graph");
  const note = h("p", { class: "focus-note", id: "focus-note", hidden: true }, "", clear);
  main.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/" }, "Artifacts"),
      " / ", h("a", { href: artifactHref(art.id) }, `${art.name}@${art.version}`)),
    h("h1", {}, "Lineage of ", h("a", { href: artifactHref(art.id) }, `${art.name}@${art.version}`)),
    h("div", { class: "toolbar" }, h("label", { for: "depth" }, "Step hops each way"), select,
      h("span", { class: "legend" }, h("span", { class: "swatch artifact" }), "artifact",
        h("span", { class: "swatch step" }), "step run (dashed: cache hit)")),
    h("p", { class: "muted" }, "Data flows downward. Click a node to open it, hover it for " +
      "details, right-click it to show only its up- and downstream; drag to pan, scroll or " +
      "use the buttons to zoom."),
    note, frame);
  const cy = window.cytoscape({
    container: box,
    elements: [
      ...graph.nodes.map((n) => ({ data: { ...n, href: hrefOf(n),
        text: nodeText(n) } })),
      ...graph.edges.map((e) => ({ data: { id: `${e.source}>${e.target}`, ...e } })),
    ],
    style: STYLE,
    autoungrabify: true,
    boxSelectionEnabled: false,
    maxZoom: 3,
    minZoom: 0.05,
  });
  const positions = layered(graph.nodes, graph.edges, (id) => cy.getElementById(id).outerWidth());
  cy.layout({ name: "preset", positions: (node) => positions[node.id()], fit: false }).run();
  initialView(cy);
  frame.before(controls(cy));
  const focus = focuser(cy, note);
  clear.onclick = () => focus(null);
  frame.after(nodeList(graph, focus));
  hoverCard(cy, frame);
  cy.on("tap", "node", (event) => { location.href = event.target.data("href"); });
  cy.on("cxttap", "node", (event) => focus(event.target.id()));
  window.faGraph = cy; // for tests and the console: the drawn graph
  markReady("lineage");
}
