"""The console's files, served with the headers that keep a page holding an API key safe,
and written so that nothing inline runs and nothing is stored (checked without a browser;
``tests/test_console.py`` drives one)."""

from __future__ import annotations

import re

from herald.console.serving import CONTENT_SECURITY_POLICY, assets
from herald.core.settings import Settings
from tests.stack import serving_api


async def test_the_console_is_served_with_strict_headers(settings: Settings) -> None:
    async with serving_api(settings, api_key=None) as anonymous:
        page = await anonymous.get("/console")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-store"
        for response in (page, await anonymous.get("/console/assets/app.js")):
            assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert "set-cookie" not in response.headers
        policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
        assert policy["default-src"] == policy["script-src"] == policy["style-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"

        script = await anonymous.get("/console/assets/app.js")
        assert script.headers["content-type"].startswith("text/javascript")
        again = await anonymous.get(
            "/console/assets/app.js", headers={"If-None-Match": script.headers["etag"]}
        )
        assert again.status_code == 304
        for missing in ("/console/assets/nothing.js", "/console/assets/index.html"):
            assert (await anonymous.get(missing)).status_code == 404
        assert (await anonymous.get("/console/")).status_code in (200, 307)
        # The console is no part of the API's document.
        assert not [
            path
            for path in (await anonymous.get("/openapi.json")).json()["paths"]
            if path.startswith("/console")
        ]


def test_every_file_the_console_loads_is_served_and_nothing_inline() -> None:
    files = assets()
    page = files["index.html"].body.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script"
    assert "style=" not in page and "<style" not in page, "inline style"
    referenced = set(re.findall(r"/console/assets/([\w.-]+)", page))
    for name, asset in files.items():
        if name.endswith(".js"):
            text = without_comments(asset.body.decode())
            referenced |= set(re.findall(r'from "\./([\w.-]+)"', text))
            assert "innerHTML" not in text and "insertAdjacentHTML" not in text, name
            assert "localStorage" not in text and "sessionStorage" not in text, name
            assert "document.cookie" not in text, name
    assert referenced <= set(files)
    assert {"app.js", "console.css", "logo.svg"} <= referenced


def without_comments(script: str) -> str:
    script = re.sub(r"/\*.*?\*/", "", script, flags=re.DOTALL)
    return re.sub(r"^\s*//.*$", "", script, flags=re.MULTILINE)
