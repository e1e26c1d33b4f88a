// Editing an artifact from its page (a browser started with --allow-delete): tags, labels and
// the description. Each change goes to the API as JSON, which validates and journals it as
// fa.tag / fa.untag / fa.update do; the page is then drawn again from the catalog.
import { api, h } from "./dom.js";

function chipList(label, items, remove) {
  return h("ul", { class: "chips", "aria-label": label }, items.map(([text, name]) =>
    h("li", {}, text, " ", h("button", { type: "button", class: "chip-remove",
      "aria-label": `Remove ${name}`, onclick: () => remove(name) }, "×"))));
}

function form(label, fields, button, submit) {
  const node = h("form", { class: "toolbar edit", "aria-label": label }, fields,
    h("button", { type: "submit" }, button));
  node.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  return node;
}

// An input (a textarea when given rows) and its label.
function field(id, label, attrs = {}) {
  const input = h(attrs.rows ? "textarea" : "input", { id, name: id, ...attrs });
  return { input, nodes: [h("label", { for: id }, label), input] };
}

// `redraw(message)` draws the page again and shows `message`.
export function editor(a, redraw) {
  const status = h("p", { id: "edit-status", role: "status" });
  const send = async (path, params, method, body, message) => {
    try {
      const result = await api(path, params, method, body);
      await redraw(message(result));
    } catch (error) {
      status.className = "error";
      status.textContent = error.message;
    }
  };
  const tagsPath = `/api/tags/${encodeURIComponent(a.id)}`;
  const artifactPath = `/api/artifacts/${encodeURIComponent(a.id)}`;
  const patch = (body, message) => send(artifactPath, {}, "PATCH", body, () => message);

  const tag = field("new-tag", "Tag", { required: true, class: "mono", autocomplete: "off" });
  const key = field("label-key", "Label key", { required: true, size: 14 });
  const value = field("label-value", "Value", { size: 18 });
  const text = field("description", "Description", { rows: 3, cols: 60 });
  text.input.value = a.description || "";

  return h("section", { "aria-labelledby": "s-edit", class: "editor" },
    h("h2", { id: "s-edit" }, "Edit"),
    h("h3", {}, "Tags of this version"),
    a.tags.length
      ? chipList("Tags of this version", a.tags.map((t) => [t, `tag ${t}`]), (name) =>
        send(tagsPath, { tag: name.slice(4) }, "DELETE", undefined,
          () => `Removed ${name}.`))
      : h("p", { class: "muted" }, "No tags on this version."),
    form("Add a tag", tag.nodes, "Add tag", () => send(tagsPath, {}, "PUT",
      { tag: tag.input.value.trim() }, (r) => (r.moved_from === null
        ? `Tagged version ${r.version} ${r.tag}.`
        : `Moved tag ${r.tag} from version ${r.moved_from} to version ${r.version}.`))),
    h("h3", {}, "Labels"),
    Object.keys(a.labels).length
      ? chipList("Labels to remove", Object.entries(a.labels).map(([k, v]) =>
        [`${k}=${v}`, `label ${k}`]), (name) =>
        patch({ labels: { [name.slice(6)]: null } }, `Removed ${name}.`))
      : h("p", { class: "muted" }, "No labels."),
    form("Set a label", [key.nodes, value.nodes], "Set label", () => patch(
      { labels: { [key.input.value.trim()]: value.input.value.trim() } },
      `Set label ${key.input.value.trim()}=${value.input.value.trim()}.`)),
    h("h3", {}, "Description"),
    form("Edit the description", text.nodes, "Save description",
      () => patch({ description: text.input.value }, "Saved the description.")),
    status);
}
