"""What the artifact page shows of an artifact's content, read with bounded memory.

Tables come from the preview (rows and column statistics) the materializer stored in the
manifest, so a 10 GB dataset is previewed without reading it. JSON, CSV, Markdown and text are read
up to `PREVIEW_BYTES`; an artifact that fits is read whole, which also verifies its checksum. CSV
becomes a table and Markdown is sent as text for the page to render (it builds elements, never
HTML). Pickled objects are never loaded: that would run code from the store in the server.
"""

from __future__ import annotations

import csv
import io
import json
import mimetypes
from pathlib import PurePosixPath
from typing import Any

from ..artifact import Artifact
from ..errors import FlowArtifactsError
from ..materializers.preview import MAX_PREVIEW_COLUMNS
from ..materializers.preview import text as cell_text
from .arrays import array_table

PREVIEW_BYTES = 256 << 10
MAX_FILES = 500
MAX_CSV_ROWS = 500
OCTET_STREAM = "application/octet-stream"
PICKLE = "application/x-python-pickle"
TEXT_TYPES = (
    "application/json",
    "application/xml",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/javascript",
)


def effective_mime(art: Artifact) -> str:
    """The recorded MIME type, or for generic bytes (uploaded files) the one its name suggests."""
    if art.mime_type != OCTET_STREAM:
        return art.mime_type
    filename = art.metadata.get("filename") or art.manifest.data_path
    guessed, _ = mimetypes.guess_type(str(filename))
    return guessed or OCTET_STREAM


def filename(art: Artifact) -> str:
    """A download name: the uploaded file's own name, else `<name>-v<version><extension>`."""
    original = art.metadata.get("filename")
    if isinstance(original, str) and original and not art.manifest.directory:
        return original
    return f"{art.name}-v{art.version}{PurePosixPath(art.manifest.data_path).suffix}"


def preview(art: Artifact, content_url: str) -> dict[str, Any]:
    """A JSON-able description of what to show; `type` says how (table, json, image, text...)."""
    if art.manifest.directory:
        files = sorted(art.manifest.files.items())
        return {
            "type": "directory",
            "files": [{"path": rel, "size": size} for rel, (_, size) in files[:MAX_FILES]],
            "count": len(files),
        }
    table = art.metadata.get("preview")
    if isinstance(table, dict) and table.get("columns"):
        return {
            "type": "table",
            "columns": table["columns"],
            "rows": table.get("data", []),
            "schema": art.metadata.get("schema", []),
            "total_rows": art.metadata.get("rows"),
            "total_columns": art.metadata.get("column_count"),
            "truncated": bool(table.get("truncated")),
            "stats": art.metadata.get("stats", []),
            "stats_rows": art.metadata.get("stats_rows"),
        }
    array = array_table(art, PREVIEW_BYTES)
    if array is not None:
        return array
    mime = effective_mime(art)
    if mime.startswith("image/"):
        return {"type": "image", "mime": mime, "src": content_url + "?inline=1"}
    if mime.startswith("text/") or mime in TEXT_TYPES or mime.endswith("+json"):
        return _text(art, mime)
    return {"type": "none", "message": describe(art)}


def _text(art: Artifact, mime: str) -> dict[str, Any]:
    try:
        raw, truncated = _head(art)
    except FlowArtifactsError as exc:
        return {"type": "error", "message": f"cannot read this artifact: {exc}"}
    text = raw.decode("utf-8", errors="replace")
    if mime == "text/csv":
        table = _csv_table(text, truncated)
        if table is not None:
            return table
    if mime == "text/markdown":
        return {"type": "markdown", "text": text, "truncated": truncated, "shown_bytes": len(raw)}
    if mime == "application/json" and not truncated:
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            return {"type": "json", "text": text}
        except ValueError:
            pass
    return {"type": "text", "text": text, "truncated": truncated, "shown_bytes": len(raw)}


def _csv_table(text: str, truncated: bool) -> dict[str, Any] | None:
    """The first rows of a CSV file as a table (header row as columns), or None when it does
    not parse as CSV; a line cut by the read limit is left out."""
    lines = text.splitlines(keepends=True)
    if truncated and len(lines) > 1:
        lines.pop()
    try:
        rows = list(csv.reader(io.StringIO("".join(lines[: MAX_CSV_ROWS + 1]))))
    except csv.Error:
        return None
    if not rows:
        return None
    header, body = rows[0], rows[1:]
    columns = [cell_text(c) for c in header[:MAX_PREVIEW_COLUMNS]]
    return {
        "type": "table",
        "source": "csv",
        "columns": columns,
        "rows": [[cell_text(c) for c in row[: len(columns)]] for row in body],
        "schema": [],
        "total_rows": None if truncated or len(lines) > MAX_CSV_ROWS + 1 else len(body),
        "total_columns": len(header),
        "truncated": truncated or len(lines) > MAX_CSV_ROWS + 1 or len(header) > len(columns),
        "stats": [],
        "stats_rows": None,
    }


def _head(art: Artifact) -> tuple[bytes, bool]:
    """The whole content when small (checksum verified), else its first `PREVIEW_BYTES`."""
    if art.size <= PREVIEW_BYTES:
        return b"".join(art.as_stream(PREVIEW_BYTES)), False
    stream = art.as_stream(PREVIEW_BYTES)
    try:
        return next(stream, b""), True
    finally:
        stream.close()  # type: ignore[attr-defined]


def describe(art: Artifact) -> str:
    """One sentence on an artifact that has no preview: what it is and how to get it."""
    meta = art.metadata
    if "shape" in meta and "dtype" in meta:
        shape = " x ".join(str(n) for n in meta["shape"]) or "scalar"
        what = f"a NumPy array of shape {shape} and dtype {meta['dtype']}"
    elif "python_type" in meta:
        what = f"a Python {meta['python_type']} ({art.materializer})"
    else:
        what = f"a {art.kind} stored as {art.mime_type} by {art.materializer}"
    if art.mime_type == PICKLE:
        return (
            f"This is {what}. Loading it runs code, so it is not previewed here; download it, or "
            "use fa.load() where you trust its source."
        )
    return f"This is {what}, which has no preview here; download it or use fa.load()."
