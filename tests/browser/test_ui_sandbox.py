"""HTML reports run sandboxed: no access to the platform's cookies or API, but their sibling artifacts load."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from ui_helpers import Platform

pytestmark = pytest.mark.browser

PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

PROBE = """<!doctype html><html><head><meta charset="utf-8"><title>Probe</title></head><body>
<h1>Probe</h1>
<p id="cookie">?</p><p id="storage">?</p><p id="api">?</p><p id="parent">?</p><p id="sibling">?</p>
<img id="pixel" src="pixel.png" alt="pixel">
<script>
var cookie; try { cookie = 'cookie=[' + document.cookie + ']'; } catch (e) { cookie = 'cookie blocked: ' + e.name; }
document.getElementById('cookie').textContent = cookie;
var storage; try { storage = 'storage=' + window.localStorage.length; } catch (e) { storage = 'storage blocked: ' + e.name; }
document.getElementById('storage').textContent = storage;
var parentText; try { parentText = 'parent=' + window.parent.document.title; } catch (e) { parentText = 'parent blocked: ' + e.name; }
document.getElementById('parent').textContent = parentText;
fetch('/api/auth/me', {credentials: 'include'})
  .then(function (r) { return r.text().then(function (t) { return 'api status ' + r.status + ' ' + t; }); },
        function (e) { return 'api refused: ' + e.name; })
  .then(function (t) { document.getElementById('api').textContent = t; });
fetch('history.json').then(function (r) { return r.json(); })
  .then(function (h) { document.getElementById('sibling').textContent = 'sibling epochs=' + h.length; },
        function (e) { document.getElementById('sibling').textContent = 'sibling failed: ' + e; });
</script></body></html>"""


@pytest.fixture(scope="module")
def trained(ui_server: Platform) -> dict[str, Any]:
    """A completed example model with a probe report beside its own report."""
    model = ui_server.create_model("Sandbox check", settings={"training": {"epochs": 30, "log_every": 10}}, start=True)
    ui_server.wait_for(model["id"], {"completed"})
    ui_server.api.put(f"/api/files/{model['id']}/artifacts/probe.html", content=PROBE.encode()).raise_for_status()
    ui_server.api.put(f"/api/files/{model['id']}/artifacts/pixel.png", content=PIXEL).raise_for_status()
    return model


def test_a_report_cannot_reach_cookies_or_the_api(logged_in: Any, ui_server: Platform, trained: dict[str, Any]) -> None:
    page = logged_in
    page.goto(f"{ui_server.url}/models/{trained['id']}")
    frame = page.locator('iframe[title="Report probe.html"]')
    assert frame.get_attribute("sandbox") == "allow-scripts"
    probe = page.frame_locator('iframe[title="Report probe.html"]')
    for element in ("#cookie", "#storage", "#api", "#parent", "#sibling"):
        probe.locator(element).filter(has_not_text="?").wait_for()
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "brevettiai_session")
    texts = {name: probe.locator(f"#{name}").inner_text() for name in ("cookie", "storage", "api", "parent", "sibling")}
    assert session not in str(texts)
    assert texts["cookie"] in ("cookie=[]", "cookie blocked: SecurityError")
    assert texts["storage"].startswith("storage blocked")
    assert texts["parent"].startswith("parent blocked")
    assert texts["api"].startswith("api refused") or texts["api"].startswith("api status 401"), texts["api"]
    assert '"username"' not in texts["api"]
    # ...while its sibling artifacts load by relative URL.
    assert texts["sibling"] == "sibling epochs=3"
    # An iframe's image loads on its own time: wait until the browser is done with it, then look.
    probe.locator("#pixel").evaluate("img => img.complete || new Promise(done => img.addEventListener("
                                     "'load', done) || img.addEventListener('error', done))")
    assert probe.locator("#pixel").evaluate("img => img.naturalWidth") == 1


def test_the_report_route_is_locked_down(logged_in: Any, ui_server: Platform, trained: dict[str, Any]) -> None:
    page = logged_in
    page.goto(f"{ui_server.url}/models/{trained['id']}")
    src = page.locator('iframe[title="Report report.html"]').get_attribute("src")
    assert src.startswith(f"/reports/{trained['id']}/") and src.endswith("/report.html")
    response = httpx.get(ui_server.url + src)  # no cookie: the ticket in the path is the access
    assert response.status_code == 200 and "Logistic regression" in response.text
    policy = response.headers["content-security-policy"]
    assert policy.startswith("sandbox allow-scripts;") and "allow-same-origin" not in policy
    assert "default-src 'self' 'unsafe-inline' data:" in policy
    assert "set-cookie" not in response.headers
    ticket = src.split("/")[3]
    base = f"{ui_server.url}/reports/{trained['id']}"
    assert httpx.get(f"{base}/{ticket}/charts/training_curves.json").json()["title"] == "Training curves"
    # Only artifacts, only this job, only with a valid ticket.
    escaped = httpx.get(f"{base}/{ticket}/../info.json")  # (the client already resolves the "..")
    assert escaped.status_code != 200 and "host_name" not in escaped.text
    assert httpx.get(f"{base}/{ticket}/%2e%2e/info.json").status_code == 400
    assert httpx.get(f"{base}/0-{'0' * 40}/report.html").status_code == 403
    assert httpx.get(f"{base}/{ticket[:-1]}x/report.html").status_code == 403
    other = ui_server.create_model("Other", settings={"training": {"epochs": 5}})
    assert httpx.get(f"{ui_server.url}/reports/{other['id']}/{ticket}/report.html").status_code == 403
    # Opened on its own (a new tab), the report is still sandboxed.
    page.goto(ui_server.url + src.replace("report.html", "probe.html"))
    expect(page.locator("#cookie")).to_have_text(re.compile(r"^(cookie=\[\]|cookie blocked: SecurityError)$"))
