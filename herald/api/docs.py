"""``/docs`` (Swagger UI) and ``/redoc`` with every asset served by Herald: the pages work
with no internet, where FastAPI's defaults load them from a CDN. The assets come from the
installed ``fastapi-offline`` package (Swagger UI 5 and ReDoc 2, with their licences)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "install_offline_docs"]

ASSETS_PATH = "/docs-assets"
ASSETS = Path(fastapi_offline.__file__).parent / "static"
FAVICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
    "%3Crect width='16' height='16' rx='3' fill='%23245'/%3E%3C/svg%3E"
)
"""A small square, inline: no request to anywhere for an icon."""


def install_offline_docs(app: FastAPI) -> None:
    """Serve the docs pages and their assets (create the app with ``docs_url=None`` and
    ``redoc_url=None``)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")
    title = f"{app.title} API"
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=FAVICON,
        )

    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )

    app.add_api_route("/docs", swagger_ui, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)
