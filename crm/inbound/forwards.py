"""Finding messages forwarded inline in a plain-text body.

Every client writes a forwarded message as a small header block ("From:",
"Date:"/"Sent:", "To:", "Subject:") followed by the original body, usually
behind a marker line. The marker varies by client:

* Gmail        ``---------- Forwarded message ---------``
* Thunderbird  ``-------- Forwarded Message --------``
* Apple Mail   ``Begin forwarded message:``
* Outlook      ``-----Original Message-----``, a rule of underscores, or no marker
* mutt         ``----- Forwarded message from Name <addr> -----``

Blocks may also arrive ``>``-quoted when the forward was itself replied to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, tzinfo

from crm.inbound.dates import parse_date
from crm.inbound.mailtypes import ForwardedMessage, addresses_in_text

# Markers that only ever introduce a forward.
_FORWARD_MARKERS = (
    re.compile(r"^-{2,}\s*Forwarded message\s*-{2,}$", re.IGNORECASE),
    re.compile(r"^Begin forwarded message\s*:$", re.IGNORECASE),
    re.compile(r"^-{2,}\s*Forwarded message from\b.*-{2,}$", re.IGNORECASE),
)
# Outlook writes these above forwards and above quoted replies alike.
_OUTLOOK_MARKERS = (
    re.compile(r"^-{2,}\s*Original Message\s*-{2,}$", re.IGNORECASE),
    re.compile(r"^_{10,}$"),
)
_HEADER = re.compile(
    r"^\*{0,2}(from|sent|date|to|cc|bcc|subject|reply-to)\*{0,2}\s*:(.*)$", re.IGNORECASE
)
_QUOTE_PREFIX = re.compile(r"^((?:[ \t]{0,3}>)+)[ \t]?")
_REPLY_SUBJECT = re.compile(r"^\s*(?:re|aw|sv|antw|rif|vs|odp)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|antw|rif|vs|odp|fwd?|wg|tr|rv|doorst|enc)\s*(?:\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)
_RECIPIENT_KEYS = frozenset({"to", "cc", "bcc"})


@dataclass(frozen=True)
class _Line:
    depth: int  # how many levels of ">" quoting
    content: str  # the line without its quoting


@dataclass(frozen=True)
class _Block:
    start: int  # index of the marker (or first header) line
    body_start: int
    depth: int
    headers: dict[str, str]


@dataclass(frozen=True)
class ForwardSplit:
    preamble: str  # what the forwarder wrote above the first block
    messages: list[ForwardedMessage]


def strip_subject_prefixes(subject: str) -> str:
    """ "Fwd: RE: Pricing" → "Pricing"."""
    return _SUBJECT_PREFIX.sub("", subject).strip()


def find_forwards(text: str, subject: str = "", assume: tzinfo = UTC) -> ForwardSplit:
    """Split a body into the forwarder's preamble and the messages forwarded inline.

    `subject` is the outer subject: under a reply subject, Outlook's ambiguous
    header blocks are quoted history rather than forwards. Naive dates in the
    blocks are read in `assume`, the forwarder's own time zone.
    """
    lines = [_split_quote(line) for line in text.splitlines()]
    outlook_is_forward = not _REPLY_SUBJECT.match(subject)
    blocks: list[_Block] = []
    index = 0
    while index < len(lines):
        block = _block_at(lines, index, outlook_is_forward)
        if block is None:
            index += 1
        else:
            blocks.append(block)
            index = max(block.body_start, index + 1)
    if not blocks:
        return ForwardSplit(text.strip("\n"), [])
    preamble = "\n".join(text.splitlines()[: blocks[0].start]).strip("\n")
    ends = [block.start for block in blocks[1:]] + [len(lines)]
    pairs = zip(blocks, ends, strict=True)
    messages = [_message(block, lines, end, assume) for block, end in pairs]
    return ForwardSplit(preamble, messages)


def _split_quote(line: str) -> _Line:
    match = _QUOTE_PREFIX.match(line)
    if match is None:
        return _Line(0, line.rstrip())
    return _Line(match.group(1).count(">"), line[match.end() :].rstrip())


def _block_at(lines: list[_Line], index: int, outlook_is_forward: bool) -> _Block | None:
    line = lines[index]
    marker = line.content.strip()
    if any(pattern.match(marker) for pattern in _FORWARD_MARKERS):
        return _headers_after_marker(lines, index, require_sender=False)
    if not outlook_is_forward:
        return None
    if any(pattern.match(marker) for pattern in _OUTLOOK_MARKERS):
        # A rule of underscores is also just a rule; only a header block under it counts.
        return _headers_after_marker(lines, index, require_sender=True)
    if _header(line.content)[0] != "from":
        return None
    headers, body_start = _read_headers(lines, index, line.depth)
    # Without a marker, insist on the full Outlook shape so a stray "From:" line
    # in prose (or the override line) is not mistaken for a forward.
    if "from" in headers and "date" in headers and ("subject" in headers or "to" in headers):
        return _Block(index, body_start, line.depth, headers)
    return None


def _headers_after_marker(lines: list[_Line], index: int, require_sender: bool) -> _Block | None:
    depth = lines[index].depth
    first = _next_non_blank(lines, index + 1)
    if first is None:
        headers, body_start = {}, len(lines)
    else:
        headers, body_start = _read_headers(lines, first, depth)
    if require_sender and "from" not in headers:
        return None
    # A marker with no header block under it is still a forward, just an unreadable one.
    return _Block(index, body_start if headers else index + 1, depth, headers)


def _read_headers(lines: list[_Line], index: int, depth: int) -> tuple[dict[str, str], int]:
    """Read "Key: value" lines; returns the headers and the index after them."""
    headers: dict[str, str] = {}
    last_key = ""
    while index < len(lines) and lines[index].depth == depth:
        content = lines[index].content
        key, value = _header(content)
        if key and key not in headers:
            headers[key] = value
            last_key = key
            index += 1
        elif not content.strip():
            # Some clients leave blank lines inside the block; carry on only if
            # another header we have not seen yet follows.
            following = _next_non_blank(lines, index)
            if following is None or lines[following].depth != depth:
                break
            next_key, _ = _header(lines[following].content)
            if not next_key or next_key in headers:
                break
            index = following
        elif last_key in _RECIPIENT_KEYS and ("@" in content or content[:1].isspace()):
            headers[last_key] += " " + content.strip()  # a wrapped recipient list
            index += 1
        else:
            break
    return headers, index


def _header(content: str) -> tuple[str, str]:
    match = _HEADER.match(content.strip())
    if match is None:
        return "", ""
    key = match.group(1).lower()
    value = match.group(2).strip(" \t*")
    return ("date" if key == "sent" else key), value


def _next_non_blank(lines: list[_Line], index: int) -> int | None:
    for position in range(index, len(lines)):
        if lines[position].content.strip():
            return position
    return None


def _message(block: _Block, lines: list[_Line], end: int, assume: tzinfo) -> ForwardedMessage:
    headers = block.headers
    senders = addresses_in_text(headers.get("from", ""))
    return ForwardedMessage(
        from_=senders[0] if senders else None,
        to=addresses_in_text(headers.get("to", "")),
        cc=addresses_in_text(headers.get("cc", "")),
        date=parse_date(headers.get("date"), assume),
        subject=headers.get("subject", ""),
        text=_body(lines[block.body_start : end], block.depth),
        message_id=None,
    )


def _body(lines: list[_Line], depth: int) -> str:
    """The forwarded body, with the block's own level of quoting removed."""
    kept: list[str] = []
    for line in lines:
        if line.depth < depth and line.content.strip():
            break  # the quoted forward ended; what follows is someone's reply
        extra = max(0, line.depth - depth)
        kept.append(("> " * extra + line.content) if extra else line.content)
    return "\n".join(kept).strip("\n")
