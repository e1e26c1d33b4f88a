"""The artifact browser: `flow-artifacts ui` serves a web page over a stack's catalog and store.

`command` holds the click command and imports nothing heavy; `app.create_app(stack)` builds the
Starlette application (JSON API under `/api`, pages, and the static files shipped in `static/`).
"""
