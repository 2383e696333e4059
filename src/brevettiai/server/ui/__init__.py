"""The platform's web pages (server-rendered with Jinja2): ``router`` and the ``STATIC_DIR`` to mount
at ``/ui/static``. See docs/ui.md."""

from brevettiai.server.ui.web import STATIC_DIR, STATIC_URL

__all__ = ["STATIC_DIR", "STATIC_URL"]
