"""The pages' scripts and styles are asked for by a URL holding their content's hash, which browsers keep for
good: a page's next load fetches none of them again, and an edited file gets a new URL."""

from __future__ import annotations

import hashlib
import re

import httpx
from platform_fixture import PlatformServer


def test_static_urls_carry_their_contents_hash_and_are_kept_for_good(platform_server: PlatformServer) -> None:
    page = httpx.get(f"{platform_server.url}/login", timeout=30)
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="(/ui/static/[^"?]+)\?v=([0-9a-f]{12})"', page.text)
    assert urls, "the login page names no static file with a content hash"
    with httpx.Client(base_url=platform_server.url, timeout=30) as client:
        for path, version in urls:
            answer = client.get(f"{path}?v={version}")
            assert answer.status_code == 200, path
            assert hashlib.sha256(answer.content).hexdigest()[:12] == version, path
            assert answer.headers["cache-control"] == "public, max-age=31536000, immutable", path
        unversioned = client.get(urls[0][0])
        assert unversioned.status_code == 200 and "immutable" not in unversioned.headers.get("cache-control", "")
