"""HTML the server writes itself: the page shell the scripts fill in, and error pages.

Pages are rendered in the browser from the JSON API; the server only checks that what a page
names exists, so a missing artifact or run gets a real 404 page, not an empty shell.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

from starlette.responses import HTMLResponse

STATIC = Path(__file__).parent / "static"

_ERROR = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · flow-artifacts</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<header class="top"><a class="brand" href="/">flow-artifacts</a></header>
<main id="main" class="error-page">
<h1>{status} {title}</h1>
<p role="alert">{message}</p>
<p><a href="/">Back to the artifacts</a></p>
</main>
</body>
</html>
"""


@cache
def _shell() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


def shell() -> HTMLResponse:
    """The page every route starts from; `static/js/app.js` renders the route's view in it."""
    return HTMLResponse(_shell())


def error_page(status: int, title: str, message: str) -> HTMLResponse:
    body = _ERROR.format(status=status, title=html.escape(title), message=html.escape(message))
    return HTMLResponse(body, status_code=status)
