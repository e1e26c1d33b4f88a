// A small Markdown renderer for previews: headings, paragraphs, lists, quotes, code blocks,
// rules, and inline code, bold, italics and links. It builds elements with h(), never HTML,
// so markup in the text stays text; links go only to http(s), mailto or this site, and open
// without a referrer. Images are shown as links (the page loads nothing from elsewhere).
import { h } from "./dom.js";

// A link's target as the browser will read it; only web and mail links are followed.
function safeHref(href) {
  try {
    const url = new URL(href, location.href);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}
const INLINE = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\*\*(.+?)\*\*|__(.+?)__|\*(.+?)\*|_(.+?)_|!?\[([^\]]*)\]\(([^)\s]*)\)/;

const MAX_INLINE = 2000; // longer paragraphs are shown as plain text: the patterns stay cheap

function inline(text) {
  if (text.length > MAX_INLINE) return [text];
  const out = [];
  let rest = text;
  while (rest) {
    const m = INLINE.exec(rest);
    if (!m) {
      out.push(rest);
      break;
    }
    if (m.index) out.push(rest.slice(0, m.index));
    if (m[1]) out.push(h("code", {}, m[2]));
    else if (m[3] || m[4]) out.push(h("strong", {}, inline(m[3] || m[4])));
    else if (m[5] || m[6]) out.push(h("em", {}, inline(m[5] || m[6])));
    else {
      const href = safeHref(m[8]);
      const label = m[7] || m[8];
      out.push(href
        ? h("a", { href, rel: "noopener noreferrer nofollow", target: "_blank" }, inline(label))
        : label);
    }
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}

export function markdown(source) {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks = [];
  let i = 0;
  const para = [];
  const flush = () => {
    if (para.length) blocks.push(h("p", {}, inline(para.join(" "))));
    para.length = 0;
  };
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if ((m = /^\s*(```|~~~)/.exec(line))) {
      flush();
      const fence = m[1];
      const code = [];
      for (i += 1; i < lines.length && !lines[i].trim().startsWith(fence); i += 1) {
        code.push(lines[i]);
      }
      blocks.push(h("pre", { class: "code" }, h("code", {}, code.join("\n"))));
      i += 1;
    } else if ((m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line))) {
      flush();
      blocks.push(h(`h${Math.min(m[1].length + 2, 6)}`, {}, inline(m[2])));
      i += 1;
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      blocks.push(h("hr"));
      i += 1;
    } else if (/^\s*>/.test(line)) {
      flush();
      const quote = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i += 1) {
        quote.push(lines[i].replace(/^\s*>\s?/, ""));
      }
      blocks.push(h("blockquote", {}, markdown(quote.join("\n"))));
    } else if ((m = /^\s*([-*+]|\d+[.)])\s+/.exec(line))) {
      flush();
      const ordered = /\d/.test(m[1]);
      const items = [];
      const marker = ordered ? /^\s*\d+[.)]\s+/ : /^\s*[-*+]\s+/;
      for (; i < lines.length && marker.test(lines[i]); i += 1) {
        items.push(h("li", {}, inline(lines[i].replace(marker, ""))));
      }
      blocks.push(h(ordered ? "ol" : "ul", {}, items));
    } else if (!line.trim()) {
      flush();
      i += 1;
    } else {
      para.push(line.trim());
      i += 1;
    }
  }
  flush();
  return blocks;
}
