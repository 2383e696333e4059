"""Browser tests of the web pages: Playwright (sync API) driving Debian's Chromium against a real
platform server on 127.0.0.1.

- `ui_server`: one server for the module set, with the example job registered as a model type
  (``[sys.executable, "examples/logistic_regression.py"]`` in the repo root), a model type that fails,
  a test report type, a dataset and tags.
- `browser`: one headless Chromium per session; `context` / `page`: a fresh browser context per
  test (its own cookies) that refuses every request leaving 127.0.0.1 and fails the test if a page tried.
- `login(page)`: log in through the login form.

Screenshots go to a temporary folder, or to ``$SCREENSHOTS_DIR`` (``SCREENSHOTS_DIR=docs/screenshots``
refreshes the ones docs/ui.md shows).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from platform_fixture import start_platform_server
from ui_helpers import Platform, login

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]

HERE = Path(__file__).resolve().parent

try:
    import playwright.sync_api as playwright_api
except ImportError:  # pragma: no cover - the dev extra has it
    playwright_api = None

if not os.path.exists(CHROMIUM):
    MISSING = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
elif playwright_api is None:
    MISSING = "browser tests need the playwright package (the dev extra); never `playwright install`"
else:
    MISSING = None
    # expect() waits 5 s by default; under CI load (2 cores, -n 2) a page can take longer: wait as long as
    # the actions do (the context's default timeout below).
    playwright_api.expect.set_options(timeout=20_000)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every browser test, saying why, when there is no browser to drive."""
    if MISSING is None:
        return
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.skip(reason=MISSING))


sys.path.insert(0, str(ROOT / "examples"))
from logistic_regression import LogisticRegressionSettings  # noqa: E402

FAILING_JOB = textwrap.dedent('''\
    """A job whose run raises: the platform should show the exception and its traceback."""
    from brevettiai import Job


    class FailingJob(Job):
        def run(self):
            raise ValueError("the samples are corrupt: row 17 has 3 columns, expected 9")


    if __name__ == "__main__":
        FailingJob.init().start()
    ''')

REPORT_JOB = textwrap.dedent('''\
    """A test report job: writes an HTML report about its model."""
    from brevettiai import Job


    class ReportJob(Job):
        def run(self):
            model = self.parent["name"] if self.parent else "?"
            self.upload_artifact("summary.html", "<!doctype html><title>Summary</title>"
                                 "<h1>Test report</h1><p id='model'>Model: " + model + "</p>")
            self.add_output_metric("passed", 41)


    if __name__ == "__main__":
        ReportJob.init().start()
    ''')


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform with the example job, a failing job and a report job registered, a dataset and tags."""
    scripts = tmp_path_factory.mktemp("jobs")
    (scripts / "failing_job.py").write_text(FAILING_JOB)
    (scripts / "report_job.py").write_text(REPORT_JOB)
    server = start_platform_server(tmp_path_factory.mktemp("ui") / "data")
    try:
        api = server.client()
        ids: dict[str, str] = {}

        def create(path: str, body: dict[str, Any]) -> str:
            response = api.post(path, json=body)
            response.raise_for_status()
            return response.json()["id"]

        ids["lr"] = create("/api/modeltypes", {
            "name": "Logistic regression", "shortDescription": "The example job: logistic regression trained "
            "with gradient descent on a dataset's CSV files (or generated samples).",
            "settingsSchema": LogisticRegressionSettings.get_schema(),
            "command": [sys.executable, "examples/logistic_regression.py"], "workingDir": str(ROOT)})
        ids["failing"] = create("/api/modeltypes", {
            "name": "Broken importer", "shortDescription": "Fails while reading its data.",
            "command": [sys.executable, str(scripts / "failing_job.py")], "workingDir": str(ROOT)})
        ids["report"] = create("/api/modeltypes", {
            "name": "Summary report", "kind": "report", "shortDescription": "An HTML summary of a model.",
            "command": [sys.executable, str(scripts / "report_job.py")], "workingDir": str(ROOT)})
        ids["tag"] = create("/api/tags", {"name": "production"})
        ids["subtag"] = create("/api/tags", {"name": "line 3", "parentId": ids["tag"]})
        ids["dataset"] = create("/api/datasets", {"name": "bottle samples", "tagIds": [ids["tag"]]})
        yield Platform(server, api, ids)
    finally:
        server.stop()
        server.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), one per session."""
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any, ui_server: Platform) -> Iterator[Any]:
    """A fresh browser context (own cookies) that blocks and records requests leaving the server."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(20_000)
    context.set_default_navigation_timeout(60_000)  # a loaded run saw a job's page take over 20 s to "load"
    outside: list[str] = []
    allowed = ("http://127.0.0.1:", "data:", "blob:", "about:")

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(allowed):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", guard)
    try:
        yield context
    finally:
        context.close()
    assert not outside, f"pages tried to load from outside the platform: {outside}"


@pytest.fixture
def page(context: Any) -> Any:
    """A page of a fresh context; page errors (uncaught exceptions) fail the test."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def logged_in(page: Any, ui_server: Platform) -> Any:
    """A page logged in as admin (on the models list)."""
    login(page, ui_server)
    return page


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $SCREENSHOTS_DIR, or a temporary folder."""
    target = os.environ.get("SCREENSHOTS_DIR")
    if target:
        path = Path(target)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")
