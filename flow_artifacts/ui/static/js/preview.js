// What the artifact page shows of an artifact's content, from /api/preview: tables (stored rows
// paged, column statistics, timestamps in their own zone), CSV as a table, Markdown rendered,
// JSON, text, images, folders.
import { h, size } from "./dom.js";
import { markdown } from "./markdown.js";

const ROWS_PER_PAGE = 10;

function show(cell) {
  if (cell === null || cell === undefined) return h("span", { class: "muted" }, "null");
  return typeof cell === "object" ? JSON.stringify(cell) : String(cell);
}

export function tableOf(columns, rows, caption, attrs = {}) {
  return h("div", { class: "scroll" }, h("table", { class: "grid", ...attrs },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((cell) => h("td", {}, show(cell))))))));
}

// "2024-01-01T12:00:00+01:00" of a column typed timestamp[.., tz=Europe/Paris] reads
// "2024-01-01 12:00:00 +01:00 Europe/Paris": the time where it was recorded, with its zone.
function zoned(schema) {
  const zones = new Map();
  for (const f of schema || []) {
    const match = /tz=([^\]]+)\]/.exec(f.type);
    if (match) zones.set(f.name, match[1]);
  }
  return (column, value) => {
    const zone = zones.get(column);
    if (!zone || typeof value !== "string") return value;
    const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d:\d\d|Z)?$/.exec(value);
    return m ? `${m[1]} ${m[2]} ${m[3] === "Z" ? "+00:00" : m[3] || ""} ${zone}`.replace(/ +/g, " ")
      : value;
  };
}

// The stored rows, ROWS_PER_PAGE at a time.
function pagedRows(p) {
  const inZone = zoned(p.schema);
  const rows = p.rows.map((r) => r.map((cell, i) => inZone(p.columns[i], cell)));
  const total = p.total_rows === null || p.total_rows === undefined ? ""
    : ` of ${p.total_rows.toLocaleString()}`;
  const box = h("div", { class: "rows" });
  const where = h("span", { class: "muted" });
  const prev = h("button", { type: "button", class: "secondary" }, "Previous rows");
  const next = h("button", { type: "button", class: "secondary" }, "Next rows");
  let start = 0;
  const draw = () => {
    const shown = rows.slice(start, start + ROWS_PER_PAGE);
    const caption = `Rows ${shown.length ? start + 1 : 0}–${start + shown.length}${total}` +
      (p.source === "csv" ? " (CSV)" : "") +
      (p.total_columns > p.columns.length ? `, first ${p.columns.length} columns` : "");
    box.replaceChildren(tableOf(p.columns, shown, caption, { id: "preview-rows" }));
    prev.disabled = start === 0;
    next.disabled = start + ROWS_PER_PAGE >= rows.length;
    where.textContent = rows.length > ROWS_PER_PAGE
      ? `${rows.length} rows kept with the artifact` : "";
  };
  prev.onclick = () => { start = Math.max(0, start - ROWS_PER_PAGE); draw(); };
  next.onclick = () => { start += ROWS_PER_PAGE; draw(); };
  draw();
  return [box, rows.length > ROWS_PER_PAGE
    ? h("div", { class: "pager" }, prev, where, next) : null];
}

function statsTable(p) {
  if (!p.stats || !p.stats.length) return null;
  const types = new Map((p.schema || []).map((f) => [f.name, f.type]));
  const inZone = zoned(p.schema);
  const counted = p.stats_rows === null || p.stats_rows === undefined ? ""
    : ` (over ${p.stats_rows.toLocaleString()} rows, computed when written)`;
  return tableOf(["column", "type", "nulls", "distinct", "min", "max"],
    p.stats.map((s) => [s.name, types.get(s.name) || "", s.nulls, s.distinct ?? "",
      s.min === undefined ? "" : inZone(s.name, s.min),
      s.max === undefined ? "" : inZone(s.name, s.max)]),
    `Column statistics${counted}`, { id: "column-stats" });
}

export function previewOf(p) {
  switch (p.type) {
    case "table":
      return [p.message ? h("p", { class: "muted" }, p.message) : null,
        ...pagedRows(p), statsTable(p),
        p.schema.length ? tableOf(["column", "type"], p.schema.map((f) => [f.name, f.type]),
          "Schema") : null];
    case "markdown":
      return [h("div", { class: "markdown", "aria-label": "Markdown content" },
        markdown(p.text)),
      p.truncated ? h("p", { class: "muted" }, `First ${size(p.shown_bytes)} shown.`) : null];
    case "json":
      return h("pre", { class: "code", "aria-label": "JSON content" }, p.text);
    case "text":
      return [h("pre", { class: "code", "aria-label": "Text content" }, p.text),
        p.truncated ? h("p", { class: "muted" }, `First ${size(p.shown_bytes)} shown.`) : null];
    case "image":
      return h("img", { src: p.src, alt: "Image content of this artifact", class: "preview-img" });
    case "directory":
      return [h("p", {}, `A directory of ${p.count} files.`),
        tableOf(["path", "size"], p.files.map((f) => [f.path, size(f.size)]), "Files")];
    case "error":
      return h("p", { class: "error", role: "alert" }, p.message);
    default:
      return h("p", { class: "muted" }, p.message);
  }
}
