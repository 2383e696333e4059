"""A run's notes: Markdown rendered to HTML that cannot run or load anything.

markdown-it-py renders CommonMark (with tables and strikethrough) with raw HTML turned off, so
``<script>`` in the notes is shown as text; nh3 then keeps only harmless tags and attributes, links
with http(s)/mailto URLs only, and no images (they would load from anywhere).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import nh3
from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
         "i", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead",
         "tr", "ul"}


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    """The renderer, imported when notes are first shown."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


def render_notes(text: str | None) -> Markup:
    """The notes as safe HTML (empty for no notes)."""
    if not text or not text.strip():
        return Markup("")
    html = _markdown().render(text)
    return Markup(nh3.clean(html, tags=_TAGS, attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
                            url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow"))
