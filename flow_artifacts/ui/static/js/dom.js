// Helpers shared by the views. Elements are built with h(), never from HTML strings, so
// names, labels and previews from the catalog are always shown as text.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// GET (or another method) a JSON endpoint; params with array values repeat the key; a body
// is sent as JSON.
export async function api(path, params = {}, method = "GET", payload = undefined) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) {
    for (const item of [].concat(value)) {
      if (item !== undefined && item !== null && item !== "") url.searchParams.append(key, item);
    }
  }
  const headers = { Accept: "application/json" };
  if (payload !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new ApiError(response.status, body.error || response.statusText);
  return body;
}

export function size(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const pad = (n) => String(n).padStart(2, "0");

const zoneName = (d) => new Intl.DateTimeFormat(undefined, { timeZoneName: "short" })
  .formatToParts(d).find((part) => part.type === "timeZoneName")?.value || "";

// A timestamp in the reader's time zone, with the zone (as the command line prints it); the
// exact recorded value is in the tooltip.
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zoneName(d)}`;
  return h("time", { datetime: iso, title: iso }, text.trim());
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export function announce(text) {
  document.getElementById("status").textContent = text;
}

export const artifactHref = (id) => `/artifacts/${encodeURIComponent(id)}`;
export const runHref = (project, runId) =>
  `/runs/${encodeURIComponent(project)}/${encodeURIComponent(runId)}`;
export const stepHref = (step) => `${runHref(step.project, step.run_id)}#step-${step.id}`;

export function artifactLink(a) {
  if (a.missing) return h("span", { class: "muted" }, `${a.id} (deleted)`);
  return h("a", { href: artifactHref(a.id), title: a.uri }, a.ref);
}

// Labels as chips; each links to the list filtered by it.
export function chips(labels) {
  const entries = Object.entries(labels || {});
  if (!entries.length) return null;
  return h("ul", { class: "chips", "aria-label": "Labels" },
    entries.map(([k, v]) => h("li", {},
      h("a", { href: `/?label=${encodeURIComponent(`${k}=${v}`)}` }, `${k}=${v}`))));
}

export function jsonBlock(value) {
  return h("pre", { class: "code" }, JSON.stringify(value, null, 2));
}

// A read-only value with a Copy button; falls back to selecting it where the clipboard is
// unavailable, so the reader can copy it themselves.
export function copyField(label, value) {
  const id = `copy-${label.toLowerCase().replace(/\W+/g, "-")}`;
  const input = h("input", { id, value: value || "", readonly: true, class: "mono" });
  const button = h("button", { type: "button", "aria-label": `Copy ${label}` }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = "Copied";
    } catch {
      input.select();
      button.textContent = "Press Ctrl+C";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
  return h("div", { class: "copy" }, h("label", { for: id }, label), input, button);
}

export function showError(main, error) {
  const title = error.status === 404 ? "Not found" : error.status === 400 ? "Bad request"
    : "Something went wrong";
  main.replaceChildren(
    h("h1", {}, title),
    h("p", { role: "alert", class: "error" }, error.message),
    h("p", {}, h("a", { href: "/" }, "Back to the artifacts")));
  markReady("error");
}

// Tests and the benchmark wait for this: the view has rendered its data.
export function markReady(view) {
  performance.mark("fa-ready");
  document.body.dataset.view = view;
  document.body.dataset.ready = String(Number(document.body.dataset.ready || 0) + 1);
}
