"""Markdown to sanitised HTML: the one renderer for module content, practical briefs,
submission text and grading feedback.

CommonMark through markdown-it, GFM tables and strikethrough, line breaks kept (plain-text
answers and feedback read as typed). Raw HTML in the source is passed to nh3, which keeps
only an allowlist of tags and attributes: scripts (with their content), iframes, images,
event handlers, style (other than a table cell's text-align) and javascript:/data: URLs
never survive, while the ``<em>`` or ``<sub>`` an author typed still work (feedback kept
this behaviour since it was first rendered). Links keep only http, https and mailto URLs
and get ``rel="noopener noreferrer nofollow"``. Images are not rendered (``![x](url)`` keeps its
alt text): an image from another origin would tell that origin who reads the page and when,
and the CSP of our pages allows images from 'self' only.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": True, "breaks": True}).enable(
    ["table", "strikethrough"]
)
_markdown.add_render_rule(
    "image",
    lambda self, tokens, idx, options, env: self.renderInline(
        tokens[idx].children or [], options, env
    ),
)

TAGS = frozenset(
    "p br hr strong em b i u s del code pre blockquote ul ol li h1 h2 h3 h4 h5 h6 a sub sup "
    "table thead tbody tr th td".split()
)
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def render(source: str | None) -> str | None:
    """``source`` (Markdown or plain text) as sanitised HTML; None stays None."""
    if source is None:
        return None
    return nh3.clean(
        _markdown.render(source),
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
