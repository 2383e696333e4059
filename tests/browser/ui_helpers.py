"""What the browser tests share besides fixtures: the platform handle, logging in, screenshots."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import services
from platform_fixture import PlatformServer


class Platform:
    """The server and the records the tests share."""

    def __init__(self, server: PlatformServer, api: httpx.Client, ids: dict[str, str]) -> None:
        self.server = server
        self.url = server.url
        self.api = api
        self.ids = ids

    def create_model(self, name: str, model_type: str = "lr", settings: dict[str, Any] | None = None,
                     start: bool = False, **extra: Any) -> dict[str, Any]:
        """A model through the REST API (started when asked)."""
        body = {"name": name, "modelTypeId": self.ids[model_type], "settings": settings or {}, **extra}
        response = self.api.post("/api/models", json=body)
        response.raise_for_status()
        model = response.json()
        if start:
            self.api.post(f"/api/models/{model['id']}/start").raise_for_status()
        return model

    def wait_for(self, model_id: str, statuses: set[str], kind: str = "models", timeout: float = 60) -> dict[str, Any]:
        """Poll the REST API until the job reaches one of `statuses`."""
        return services.wait_for(lambda: self.api.get(f"/api/{kind}/{model_id}").json(), timeout, every=0.2,
                                 what=f"{model_id} reaching {sorted(statuses)}",
                                 until=lambda job: job["status"] in statuses,
                                 detail=lambda: f"log:\n{self.server.log()[-3000:]}")


def new_user(server: Platform, role: str) -> tuple[str, str]:
    """A user with `role` added by the admin through the REST API: (name, password)."""
    name, password = f"{role}-{uuid.uuid4().hex[:6]}", f"pw-{uuid.uuid4().hex}"
    answer = server.api.post("/api/users", json={"username": name, "role": role, "password": password})
    assert answer.status_code == 201, answer.text
    return name, password


def login(page: Any, server: Platform, next_path: str = "/models", username: str = "admin",
          password: str | None = None) -> None:
    """Log in through the form (default: as admin)."""
    page.goto(f"{server.url}/login?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or server.server.admin_password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}{next_path}*")


def shot(page: Any, folder: Path, name: str, full_page: bool = True) -> Path:
    """Save a screenshot of the page as <name>.png.

    A whole page is taken with the window made as tall as the page: Chromium's full-page capture
    leaves out-of-process frames (the sandboxed reports) blank.
    """
    path = folder / f"{name}.png"
    if not full_page:
        page.screenshot(path=str(path))
        return path
    size = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": height})
    try:
        page.wait_for_timeout(300)  # let the frames paint at the new size
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path
