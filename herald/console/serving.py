"""Serving the console's files, with the headers that keep a page holding an API key safe.

The page and its assets are read once from the package. Every answer forbids framing, inline
scripts and styles, and any origin but this one (Content-Security-Policy), and sends no
``Referer``; the page itself is never cached, so signing out and going back shows nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request, Response

from herald.core.errors import NotFound

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "router"]

PAGE = "index.html"
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
"""Only this origin's own files run or load: no inline script or style (so markup that got
into the page could not run), no plugins, no form posting anywhere, no framing."""
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

router = APIRouter(prefix="/console", include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@cache
def assets() -> dict[str, Asset]:
    """Every file of ``static/`` (flat), by name."""
    found: dict[str, Asset] = {}
    for entry in (resources.files(__package__) / "static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in CONTENT_TYPES:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            found[entry.name] = Asset(body, CONTENT_TYPES[suffix], etag)
    return found


@router.get("")
async def page() -> Response:
    """The console's one page; it signs in and draws every view itself."""
    asset = assets()[PAGE]
    headers = SECURITY_HEADERS | {"Cache-Control": "no-store"}
    return Response(asset.body, media_type=asset.content_type, headers=headers)


@router.get("/assets/{name}")
async def asset(name: str, request: Request) -> Response:
    """A script, style sheet or image of the page: revalidated on each load (by its ETag),
    so an upgraded Herald serves its new files at once."""
    found = assets().get(name)
    if found is None or name == PAGE:
        raise NotFound(f"the console has no file {name!r}")
    headers = SECURITY_HEADERS | {"Cache-Control": "no-cache", "ETag": found.etag}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.content_type, headers=headers)
