"""Plain text with simple formatting → the HTML part of a mail, sanitized with nh3.

What a member types: blank lines separate paragraphs, `**bold**`, `*italic*`, lines starting
with "- " make a list, and bare https:// links become links. Everything else is text: the
input is escaped first, and the result passes nh3 with a short allow-list, so nothing a
member (or a merge field) types can become markup the recipient's client runs.
"""

from __future__ import annotations

import html
import re

import nh3

_TAGS = {"p", "br", "strong", "em", "ul", "li", "a"}
_LINK = re.compile(r"(https?://[^\s<]+[^\s<.,;:!?)\]'\"])")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])")


def to_html(text: str) -> str:
    blocks = [b for b in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n")) if b.strip()]
    parts = []
    for block in blocks:
        lines = block.split("\n")
        if all(line.lstrip().startswith("- ") for line in lines):
            items = "".join(f"<li>{_inline(line.lstrip()[2:])}</li>" for line in lines)
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append("<p>" + "<br>".join(_inline(line) for line in lines) + "</p>")
    return nh3.clean(
        "\n".join(parts),
        tags=_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def _inline(line: str) -> str:
    escaped = html.escape(line, quote=True)
    escaped = _LINK.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', escaped)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    return _ITALIC.sub(r"<em>\1</em>", escaped)
