"""Who may use the browser, and what its responses let a page do.

`TokenGate` asks every request for the `--token`: as `Authorization: Bearer <token>` (scripts),
as the `fa_token` cookie (the page), or once as `?token=<token>`, which is swapped for the cookie
by a redirect so the token leaves the address bar and the history. `SecurityHeaders` keeps the
page from running scripts it did not ship, and stops other sites from framing it. `SameOrigin`
refuses a change (any method but GET, HEAD, OPTIONS) that a browser says came from another site.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from urllib.parse import quote, urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "fa_token"
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
"""Inline styles only because the vendored graph library injects its own small stylesheet."""
CONTENT_POLICY = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"
"""For artifact bytes served inline: an HTML or SVG artifact must not run as part of the app."""


class TokenGate:
    """Refuses (401) every request that does not carry the token."""

    def __init__(self, app: ASGIApp, token: str, deny: Callable[[Request], Response]) -> None:
        self.app = app
        self.token = token.encode()
        self.deny = deny

    def _valid(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if (scheme.lower() == "bearer" and self._valid(bearer.strip())) or self._valid(
            request.cookies.get(COOKIE)
        ):
            await self.app(scope, receive, send)
            return
        if self._valid(request.query_params.get("token")):
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            location = local_path(request.url.path) + (f"?{urlencode(rest)}" if rest else "")
            response: Response = RedirectResponse(location, status_code=303)
            response.set_cookie(COOKIE, self.token.decode(), httponly=True, samesite="strict")
        else:
            response = self.deny(request)
            response.headers["WWW-Authenticate"] = "Bearer"
        await response(scope, receive, send)


def local_path(path: str) -> str:
    """`path` as a redirect target that stays on this server: one leading slash (`//host` and
    `/\\host` would name another host), everything else percent-encoded (no header breaks)."""
    return "/" + quote(path.lstrip("/\\"), safe="/-._~!$&'()*+,;=:@")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SameOrigin:
    """Refuses (403) a change a browser sent from another origin.

    Browsers name the page that sent a request in `Origin` (and `Sec-Fetch-Site`) on every
    non-GET request, and no page can forge them; scripts such as curl send neither and still
    need the token when one is set. The edit and delete endpoints also take only JSON or no
    body, which another site cannot send without a CORS preflight this server never answers:
    this check is the second wall, and the one that holds if a browser skips the first.
    """

    def __init__(self, app: ASGIApp, deny: Callable[[Request, str], Response]) -> None:
        self.app = app
        self.deny = deny

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        origin = request.headers.get("origin")
        site = request.headers.get("sec-fetch-site")
        here = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
        foreign = origin is not None and origin.lower() != here
        if foreign or site not in (None, "same-origin", "none"):
            response = self.deny(request, "changes are only accepted from this browser's own page")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Adds the page's content security policy and no-sniff/no-frame headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", PAGE_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "no-referrer")
            await send(message)

        await self.app(scope, receive, send_with_headers)
