"""Text helpers for inbound mail: charset decoding and HTML handling.

Everything here is total: given any input it returns a string and never raises,
because inbound mail is hostile or broken often enough that "best effort" is the
only useful contract.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

import nh3

# Labels that mail clients routinely put on text that is really windows-1252 (or
# UTF-8). The WHATWG Encoding Standard decodes the first two as windows-1252 for
# the same reason; we additionally try UTF-8 first, because valid multi-byte UTF-8
# is vanishingly unlikely to occur by accident in Western single-byte text.
_WESTERN_CODECS = frozenset({"ascii", "iso8859-1", "cp1252"})

# Python text codecs that are not MIME charsets; a hostile `charset=` must not
# select them (unicode-escape would interpret backslashes, for instance).
_NOT_CHARSETS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "mbcs", "oem"}
)


def _codec_name(label: str | None) -> str | None:
    """Map a MIME charset label to a Python codec name, or None if unusable."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    return None if name in _NOT_CHARSETS else name


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode body or header bytes, repairing mislabelled charsets.

    Returns the text and whether the declared charset had to be overridden (the
    caller records that as a defect).
    """
    declared = _codec_name(charset)
    if declared is None or declared in _WESTERN_CODECS or declared == "utf-8":
        attempts = ["utf-8", "cp1252"]
    else:
        attempts = [declared, "utf-8", "cp1252"]
    # The label is honoured when it fits; windows-1252 counts as fitting the
    # Western labels, as explained above.
    fitting = {declared, "cp1252"} if declared in _WESTERN_CODECS else {declared}
    for codec in attempts:
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        repaired = charset is not None and codec not in fitting and not data.isascii()
        return text.removeprefix("\ufeff"), repaired
    # latin-1 maps every byte, so this is the floor; for a declared multi-byte
    # charset, a few replacement characters beat wholesale mojibake.
    if declared is not None and declared not in _WESTERN_CODECS and declared != "utf-8":
        return data.decode(declared, errors="replace"), True
    return data.decode("latin-1"), True


def repair_surrogates(text: str) -> str:
    """Turn surrogate-escaped raw bytes (from 8-bit headers) back into real text.

    The stdlib parser keeps undecodable header bytes as lone surrogates, which
    cannot be encoded or stored later; they are usually raw UTF-8 (RFC 6532).
    """
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    raw = text.encode("utf-8", errors="surrogateescape")
    return decode_bytes(raw, None)[0]


# Inline data: and cid: images are how mail embeds pictures; cid: URLs are
# resolved by the app against the message's attachments.
_URL_SCHEMES = nh3.ALLOWED_URL_SCHEMES | {"cid"}


def sanitize_html(html: str) -> str:
    """Strip scripts, styles, handlers and unsafe URLs so the HTML can be shown."""
    return nh3.clean(html, url_schemes=_URL_SCHEMES)


_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
_PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "pre"}
)
_INVISIBLE_TAGS = frozenset({"head", "script", "style", "title", "template", "noscript"})
_SPACES = re.compile(r"[ \t\r\n\f\u00a0]+")
_BLANK_RUNS = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    """Collects readable text: block tags become line breaks, blockquotes become `>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[str] = []
        self._current: list[str] = []
        self._hidden = 0
        self._quote_depth = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden += 1
        elif tag == "br":
            self._break()
        elif tag in _BLOCK_TAGS:
            self._flush()
            self._separate(tag)
            if tag == "blockquote":
                self._quote_depth += 1
            elif tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._current.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._break()
        elif tag in _BLOCK_TAGS:
            self._flush()
            self._separate(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            # Finish the line at the current depth, then separate at the outer one.
            self._flush()
            if tag == "blockquote":
                self._quote_depth = max(0, self._quote_depth - 1)
            elif tag == "pre":
                self._pre = max(0, self._pre - 1)
            self._separate(tag, closing=True)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._current.append(first)
            for line in rest:
                self._break()
                self._current.append(line)
        else:
            self._current.append(_SPACES.sub(" ", data))

    def _break(self) -> None:
        line = "".join(self._current)
        if not self._pre:
            line = line.strip(" ")  # spaces at line edges are not rendered, except in <pre>
        self._lines.append(("> " * self._quote_depth + line).rstrip())
        self._current = []

    def _flush(self) -> None:
        if "".join(self._current).strip():
            self._break()
        self._current = []

    def _separate(self, tag: str, closing: bool = False) -> None:
        """A blank line (quoted to the current depth) around paragraph-like blocks."""
        if tag not in _PARAGRAPH_TAGS or not self._lines:
            return
        separator = ("> " * self._quote_depth).rstrip()
        if self._lines[-1].strip("> "):
            self._lines.append(separator)
        elif closing:
            # The blank line left over from a deeper quote now sits outside it.
            self._lines[-1] = separator

    def text(self) -> str:
        self._flush()
        joined = "\n".join(line.rstrip() for line in self._lines)
        return _BLANK_RUNS.sub("\n\n", joined).strip("\n")


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: paragraphs kept, tags dropped, entities decoded."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except (AssertionError, ValueError):  # html.parser's few hard failures on junk
        return _SPACES.sub(" ", re.sub(r"<[^>]*>", " ", html)).strip()
    return extractor.text()
