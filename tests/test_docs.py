"""``/docs`` and ``/redoc`` work offline: every asset they reference is served by Herald."""

from __future__ import annotations

import re

import pytest

from herald.api.docs import ASSETS
from herald.core.settings import Settings
from tests.stack import serving_api

REFERENCE = re.compile(r'(?:src|href)="([^"]+)"|url: ?[\'"]([^\'"]+)[\'"]')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_page_and_its_assets_are_served_by_herald(
    settings: Settings, page: str
) -> None:
    async with serving_api(settings, api_key=None) as client:
        html = await client.get(page)
        assert html.status_code == 200
        references = [a or b for a, b in REFERENCE.findall(html.text)]
        assert references, html.text
        assert not [r for r in references if r.startswith(("http:", "https:", "//"))], references
        assert "fonts.googleapis" not in html.text
        assets = [r for r in references if not r.startswith("data:")]
        for asset in assets:
            answer = await client.get(asset)
            assert answer.status_code == 200, asset
            assert len(answer.content) > 1000 or asset.endswith(".json"), asset
        if page == "/docs":
            assert "/openapi.json" in assets


def test_the_bundles_keep_their_licence_notices() -> None:
    for bundle in ("swagger-ui-bundle.js", "redoc.standalone.js"):
        assert "license" in (ASSETS / bundle).read_text()[:200].lower()
