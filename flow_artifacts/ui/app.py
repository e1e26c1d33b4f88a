"""The browser's Starlette application: JSON API under `/api`, pages, and the shipped static files.

Endpoints are plain functions (Starlette runs them in its thread pool, since the catalog is
synchronous SQLAlchemy). Errors become a status and one line, never a traceback: JSON under
`/api`, an HTML page elsewhere, with the stack's secrets masked either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..artifact import Artifact
from ..catalog import RunRecord
from ..errors import (
    ArtifactInUse,
    ArtifactNotFound,
    ConfigError,
    FlowArtifactsError,
    MetadataValidationError,
    StoreError,
    UnsupportedOperation,
)
from ..refs import parse_ref
from ..stack import Stack
from . import archive, edits, metrics, params, preview, views
from .pages import STATIC, error_page, shell
from .security import CONTENT_POLICY, SameOrigin, SecurityHeaders, TokenGate

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
DOWNLOAD_CHUNK = 1 << 20
RUN_STATUSES = ("running", "completed", "failed", "crashed", "external")
_STATUS: list[tuple[type[Exception], int, str]] = [
    (edits.TooLarge, 413, "Content too large"),
    (edits.NotJson, 415, "Unsupported media type"),
    (params.BadRequest, 400, "Bad request"),
    (MetadataValidationError, 400, "Bad request"),
    (ArtifactNotFound, 404, "Not found"),
    (ConfigError, 400, "Bad request"),  # includes InvalidName: a malformed cursor or name
    (ArtifactInUse, 409, "Conflict"),
    (UnsupportedOperation, 409, "Conflict"),
    (StoreError, 502, "Store unavailable"),
    (FlowArtifactsError, 500, "Error"),
]


class Browser:
    """The endpoints, bound to one stack."""

    def __init__(self, stack: Stack, *, allow_delete: bool) -> None:
        self.stack = stack
        self.allow_delete = allow_delete

    def json(self, value: Any) -> JSONResponse:
        return JSONResponse(views.plain(value, self.stack))

    def artifact(self, request: Request) -> Artifact:
        """The artifact the path names: an id, a URN, or `project/name[@version|:tag]`."""
        return self.artifact_named(request.path_params["ref"])

    def artifact_named(self, text: str) -> Artifact:
        text = text.strip()
        try:
            ref = parse_ref(text, bare=True)
        except ConfigError:
            raise ArtifactNotFound(
                f"no artifact {text!r:.120}: it is not an id or a reference"
            ) from None
        return Artifact(self.stack.catalog.get(ref), store=self.stack.store, stack=self.stack)

    def run(self, request: Request) -> RunRecord:
        return self.stack.catalog.run(request.path_params["project"], request.path_params["run_id"])

    # pages
    def artifact_page(self, request: Request) -> Response:
        self.artifact(request)
        return shell()

    def run_page(self, request: Request) -> Response:
        self.run(request)
        return shell()

    # API
    def info(self, request: Request) -> Response:
        return self.json(views.stack_info(self.stack, allow_delete=self.allow_delete))

    def search(self, request: Request) -> Response:
        page = self.stack.catalog.search(params.list_query(request.query_params))
        items = views.list_rows(self.stack, page.items)
        return self.json({"items": items, "next_cursor": page.next_cursor})

    def detail(self, request: Request) -> Response:
        art = self.artifact(request)
        if request.method == "DELETE":
            from ..manage import delete

            return self.json({"deleted": delete(art, stack=self.stack)})
        return self.json(views.artifact_detail(self.stack, art))

    async def edit(self, request: Request) -> Response:
        """PATCH an artifact's labels and description (only with `allow_delete`)."""
        body = await edits.json_body(request)
        art = await run_in_threadpool(self.artifact, request)
        updated = await run_in_threadpool(edits.patch, self.stack, art, body)
        return self.json(await run_in_threadpool(views.artifact_detail, self.stack, updated))

    async def tags(self, request: Request) -> Response:
        """PUT `{"tag": name}` on an artifact, or DELETE `?tag=name` from it."""
        if request.method == "PUT":
            body = await edits.json_body(request)
            art = await run_in_threadpool(self.artifact, request)
            return self.json(await run_in_threadpool(edits.add_tag, self.stack, art, body))
        art = await run_in_threadpool(self.artifact, request)
        name = params.text(request.query_params, "tag")
        return self.json(await run_in_threadpool(edits.remove_tag, self.stack, art, name))

    def versions(self, request: Request) -> Response:
        cursor = params.text(request.query_params, "cursor")
        return self.json(views.versions(self.stack, self.artifact(request), cursor))

    def preview(self, request: Request) -> Response:
        art = self.artifact(request)
        return self.json(preview.preview(art, f"/api/content/{art.id}"))

    def content(self, request: Request) -> Response:
        """The bytes, streamed. No Content-Length: if the checksum fails at the end, the
        connection is cut, so a damaged artifact never looks like a complete download."""
        art = self.artifact(request)
        if art.manifest.directory:
            raise UnsupportedOperation(
                f"{art.uri} is a directory; download it as a zip from /api/archive/{art.id}, "
                f"or with `flow-artifacts get {art.uri}`"
            )
        inline = params.choice(request.query_params, "inline", ("0", "1")) == "1"
        name = quote(preview.filename(art))
        headers = {
            "Content-Disposition": f"{'inline' if inline else 'attachment'}; "
            f"filename*=UTF-8''{name}",
            "Content-Security-Policy": CONTENT_POLICY,
            "X-Checksum": art.checksum,
        }
        media = preview.effective_mime(art) if inline else "application/octet-stream"
        return StreamingResponse(art.as_stream(DOWNLOAD_CHUNK), media_type=media, headers=headers)

    def metrics(self, request: Request) -> Response:
        """A report's metrics (a flat object of numbers) and those of its name's latest
        versions, for the key/value table and the chart across versions."""
        return self.json(metrics.history(self.stack, self.artifact(request)))

    def archive(self, request: Request) -> Response:
        """A folder artifact as a zip, checked against its record before the first byte."""
        art = self.artifact(request)
        if not art.manifest.directory:
            raise UnsupportedOperation(f"{art.uri} is one file; download it from /api/content")
        headers = {
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(archive.zip_name(art))}",
            "X-Checksum": art.checksum,
        }
        return StreamingResponse(
            archive.zip_stream(art), media_type="application/zip", headers=headers
        )

    def lineage(self, request: Request) -> Response:
        art = self.artifact(request)
        return self.json(views.lineage(self.stack, art, params.depth(request.query_params)))

    def runs(self, request: Request) -> Response:
        query = request.query_params
        rows, next_cursor = self.stack.catalog.runs_page(
            params.text(query, "project"),
            status=params.choice(query, "status", RUN_STATUSES),
            pipeline=params.text(query, "pipeline"),
            since=params.moment(query, "since"),
            until=params.moment(query, "until"),
            page_size=params.integer(query, "limit", 50, 1, params.MAX_LIMIT),
            cursor=params.text(query, "cursor"),
        )
        return self.json({"items": [r.to_dict() for r in rows], "next_cursor": next_cursor})

    def compare(self, request: Request) -> Response:
        """Artifact `a` against artifact `b` (references as in the path) or, with `runs=1`,
        run `a` against run `b` (`[PROJECT/]RUN_ID`)."""
        from ..compare import diff_artifacts, diff_runs, find_run

        query = request.query_params
        a, b = (params.text(query, side) for side in ("a", "b"))
        runs = params.choice(query, "runs", ("0", "1")) == "1"
        if not a or not b:
            what = (
                "runs: ?runs=1&a=PROJECT/RUN&b=PROJECT/RUN" if runs else "artifacts: ?a=REF&b=REF"
            )
            raise params.BadRequest(f"compare needs two {what}")
        if runs:
            return self.json(
                diff_runs(self.stack, find_run(self.stack, a), find_run(self.stack, b))
            )
        found = diff_artifacts(self.stack, self.artifact_named(a), self.artifact_named(b))
        return self.json(found)

    def run_api(self, request: Request) -> Response:
        return self.json(views.run_detail(self.stack, self.run(request)))

    # errors
    def error(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            status, title, message = exc.status_code, _reason(exc.status_code), exc.detail
            if status == 405:
                message = (
                    "this browser only reads; start it with --allow-delete to edit or delete "
                    "artifacts"
                    if request.method in ("DELETE", "PATCH", "PUT")
                    else f"{request.method} is not allowed here"
                )
        else:
            status, title = next(
                ((s, t) for cls, s, t in _STATUS if isinstance(exc, cls)), (500, "Internal error")
            )
            message = (
                str(exc)
                if status != 500 or isinstance(exc, FlowArtifactsError)
                else (f"unexpected {type(exc).__name__}; the server log has the details")
            )
        message = self.stack.scrub(str(message))
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return error_page(status, title, message)


def _reason(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


def create_app(
    stack: Stack,
    *,
    allow_delete: bool = False,
    token: str | None = None,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
) -> Starlette:
    """The browser over `stack`. Read only unless `allow_delete`, which also allows editing tags,
    labels and descriptions; with `token`, every request must carry it. Requests naming another
    host are refused, against DNS rebinding, and changes sent from another origin, against
    cross-site requests."""
    b = Browser(stack, allow_delete=allow_delete)
    routes: list[BaseRoute] = [
        Route("/", lambda request: shell()),
        Route("/runs", lambda request: shell()),
        Route("/compare", lambda request: shell()),
        Route("/artifacts/{ref:path}", b.artifact_page),
        Route("/lineage/{ref:path}", b.artifact_page),
        Route("/runs/{project}/{run_id}", b.run_page),
        Route("/api/info", b.info),
        Route("/api/artifacts", b.search),
        Route(
            "/api/artifacts/{ref:path}",
            b.detail,
            methods=["GET", "DELETE"] if allow_delete else ["GET"],
        ),
        *(
            [
                Route("/api/artifacts/{ref:path}", b.edit, methods=["PATCH"]),
                Route("/api/tags/{ref:path}", b.tags, methods=["PUT", "DELETE"]),
            ]
            if allow_delete
            else []
        ),
        Route("/api/versions/{ref:path}", b.versions),
        Route("/api/preview/{ref:path}", b.preview),
        Route("/api/content/{ref:path}", b.content),
        Route("/api/archive/{ref:path}", b.archive),
        Route("/api/metrics/{ref:path}", b.metrics),
        Route("/api/lineage/{ref:path}", b.lineage),
        Route("/api/compare", b.compare),
        Route("/api/runs", b.runs),
        Route("/api/runs/{project}/{run_id}", b.run_api),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
        Middleware(SecurityHeaders),
        Middleware(SameOrigin, deny=lambda r, why: b.error(r, HTTPException(403, why))),
    ]
    if token:
        deny = HTTPException(401, "this browser needs its token: open the URL it printed")
        middleware.append(Middleware(TokenGate, token=token, deny=lambda r: b.error(r, deny)))
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            HTTPException: b.error,
            params.BadRequest: b.error,
            FlowArtifactsError: b.error,
            Exception: b.error,  # last resort: one line, and the traceback in the server log
        },
    )
