// The page's entry point: reads the stack's info, then renders the view the path names.
// Each view is a module loaded on demand, so the list page never loads the graph library.
import { api, h, showError } from "./dom.js";

const ROUTES = [
  [/^\/$/, "list", "artifacts"],
  [/^\/artifacts\/(.+)$/, "artifact", "artifacts"],
  [/^\/lineage\/(.+)$/, "lineage", "artifacts"],
  [/^\/compare$/, "compare", "artifacts"],
  [/^\/runs\/?$/, "runs", "runs"],
  [/^\/runs\/([^/]+)\/([^/]+)$/, "run", "runs"],
];

function header(info) {
  const mode = info.allow_delete ? "edits and deletes allowed" : "read-only";
  document.getElementById("stack").replaceChildren(
    h("span", { title: `store ${info.store}\ncatalog ${info.catalog}` }, `stack ${info.stack}`),
    h("span", { class: info.allow_delete ? "badge warn" : "badge" }, mode));
}

async function start() {
  const main = document.getElementById("main");
  try {
    const info = await api("/api/info");
    header(info);
    for (const [pattern, view, section] of ROUTES) {
      const match = location.pathname.match(pattern);
      if (!match) continue;
      for (const link of document.querySelectorAll("nav a[data-section]")) {
        if (link.dataset.section === section) link.setAttribute("aria-current", "page");
      }
      const module = await import(`./${view}.js`);
      await module.render(main, info, ...match.slice(1).map(decodeURIComponent));
      return;
    }
    showError(main, { status: 404, message: `no page at ${location.pathname}` });
  } catch (error) {
    showError(main, error);
  }
}

start();
