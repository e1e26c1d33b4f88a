"""Small JSON-able previews of tabular data, kept in the manifest for browsing without loading."""

from __future__ import annotations

import json
from typing import Any

PREVIEW_ROWS = 5


def frame_preview(frame: Any, rows: int = PREVIEW_ROWS) -> dict[str, Any]:
    """The first rows of a pandas DataFrame as {"columns": [...], "data": [[...], ...]}."""
    head = frame.head(rows)
    text = head.to_json(orient="split", date_format="iso", default_handler=str, index=False)
    body = json.loads(text)
    return {"columns": [str(c) for c in body["columns"]], "data": body["data"]}


def arrow_schema(schema: Any) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]
