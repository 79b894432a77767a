"""Raw RFC 822 bytes → `ParsedMail`, for mail arriving at a user's email-in address.

`parse_message` never raises. Mail in the wild is malformed often enough, and
the stdlib's modern header parser crashes on enough hostile input, that every
step degrades to a best-effort value and records what went wrong in `defects`.
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
import re
from collections.abc import Callable
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import TypeVar

from crm.inbound.dates import parse_date, source_timezone
from crm.inbound.forwards import find_forwards
from crm.inbound.invites import parse_invite
from crm.inbound.mailtypes import (
    EMAIL_RE,
    Address,
    Attachment,
    CalendarInvite,
    ForwardedMessage,
    ParsedMail,
    addresses_in_text,
    dedupe,
)
from crm.inbound.quoting import split_quoted
from crm.inbound.text import (
    decode_bytes,
    html_to_text,
    repair_surrogates,
    sanitize_html,
)
from crm.kernel.filenames import clean_filename

__all__ = [
    "Address",
    "Attachment",
    "CalendarInvite",
    "ForwardedMessage",
    "ParsedMail",
    "parse_message",
    "split_quoted",
]

# Bounds on hostile nesting: forwards of forwards of forwards, and part bombs.
MAX_FORWARD_DEPTH = 5
MAX_PARTS = 500

_T = TypeVar("_T")
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_OVERRIDE = re.compile(r"^\s*\*?From\*?\s*:\s*(.+)$", re.IGNORECASE)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response)"
    r"|autoreply|auto:|abwesenheitsnotiz|réponse automatique|respuesta automática)",
    re.IGNORECASE,
)
_BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics"})


class _CachingPolicy(policy.EmailPolicy):
    """`policy.default`, remembering parsed headers: the stdlib parses a header again on every
    access (Content-Type alone is read a dozen times per message), which was a third of the
    parsing time. Header objects are immutable, so sharing them is safe."""

    def header_fetch_parse(self, name, value):
        if isinstance(value, str) and len(value) <= _CACHED_HEADER_CHARS:
            return _parsed_header(name, value)
        return super().header_fetch_parse(name, value)


_CACHED_HEADER_CHARS = 1000
_DEFAULT = policy.EmailPolicy()


@functools.lru_cache(maxsize=4096)
def _parsed_header(name: str, value: str):
    return _DEFAULT.header_fetch_parse(name, value)


_POLICY = _CachingPolicy()


def parse_message(raw: bytes) -> ParsedMail:
    """Parse one inbound message. Never raises; see `ParsedMail.defects`."""
    defects: list[str] = []
    try:
        return _parse(raw, defects)
    # Last line of defence for bugs in the layers below: the caller must always
    # get something it can store and show.
    except Exception as exc:  # noqa: BLE001
        defects.append(f"internal error: {type(exc).__name__}")
        return _unparsed(raw, defects)


def _parse(raw: bytes, defects: list[str]) -> ParsedMail:
    message = BytesParser(policy=_POLICY).parsebytes(raw)
    headers = _HeaderReader(message, defects)
    subject = headers.text("Subject") or ""
    date_header = headers.text("Date")
    body = _BodyCollector(defects, depth=0)
    body.visit(message)
    text = body.text()
    split = find_forwards(text, subject, source_timezone(date_header))
    forwarded = split.messages + body.forwarded
    override_from, note = _override(split.preamble)
    senders = headers.addresses("From")
    if not senders:
        defects.append("no sender address")
    is_auto_reply = _is_auto_reply(headers, subject)
    return ParsedMail(
        message_id=_first_id(headers.text("Message-ID")),
        in_reply_to=_first_id(headers.text("In-Reply-To")),
        references=_all_ids(headers.text("References")),
        subject=subject,
        from_=senders[0] if senders else None,
        to=headers.addresses("To"),
        cc=headers.addresses("Cc"),
        reply_to=headers.addresses("Reply-To"),
        date=parse_date(date_header),
        text=text,
        html=body.html(),
        attachments=body.attachments,
        calendar=body.calendar,
        is_auto_reply=is_auto_reply,
        is_bounce=_is_bounce(message, headers, senders, is_auto_reply),
        forwarded=forwarded,
        override_from=override_from,
        headers=_all_headers(message),
        defects=defects,
        note=note if (forwarded or override_from) else "",
    )


def _unparsed(raw: bytes, defects: list[str]) -> ParsedMail:
    return ParsedMail(
        message_id=None,
        in_reply_to=None,
        references=[],
        subject="",
        from_=None,
        to=[],
        cc=[],
        reply_to=[],
        date=None,
        text=decode_bytes(raw, None)[0],
        html=None,
        attachments=[],
        calendar=None,
        is_auto_reply=False,
        is_bounce=False,
        forwarded=[],
        override_from=None,
        headers=[],
        defects=defects,
    )


def _guarded(defects: list[str], label: str, attempt: Callable[[], _T], fallback: _T) -> _T:
    """Run one stdlib accessor that may crash on malformed input."""
    try:
        return attempt()
    except Exception as exc:  # noqa: BLE001 — the stdlib raises many types here
        defects.append(f"{label}: {type(exc).__name__}")
        return fallback


class _HeaderReader:
    """Header access through `policy.default`, falling back to compat32-style decoding."""

    def __init__(self, message: Message, defects: list[str]) -> None:
        self._message = message
        self._defects = defects

    def text(self, name: str) -> str | None:
        try:
            value = self._message.get(name)
        except Exception:  # noqa: BLE001 — known crashes in email._header_value_parser
            self._defects.append(f"unparseable {name} header")
            return self._raw(name)
        if value is None:
            return None
        self._note_defects(name, [value])
        return repair_surrogates(str(value)).strip()

    def addresses(self, name: str) -> list[Address]:
        try:
            values = self._message.get_all(name) or []
            pairs = [(a.display_name, a.addr_spec) for v in values for a in v.addresses]
            self._note_defects(name, values)
        except Exception:  # noqa: BLE001 — as above; compat32's parser is more forgiving
            self._defects.append(f"unparseable {name} header")
            raw = self._raw(name)
            pairs = getaddresses([raw]) if raw else []
        found: list[Address] = []
        for display, email in pairs:
            display, email = repair_surrogates(display), repair_surrogates(email)
            if EMAIL_RE.fullmatch(email):
                found.append(Address(display, email))
            elif "@" in display + email:
                # A mangled header ("Unclosed quote <a@b.c>") still names someone.
                self._defects.append(f"{name}: malformed address")
                found.extend(addresses_in_text(f"{display} {email}"))
        return dedupe(found)

    def _note_defects(self, name: str, values: list[object]) -> None:
        for value in values:
            self._defects.extend(
                f"{name}: {type(defect).__name__}" for defect in getattr(value, "defects", ())
            )

    def _raw(self, name: str) -> str | None:
        for key, value in self._message.raw_items():
            if key.lower() == name.lower():
                return decode_header_value(value)
        return None


def decode_header_value(value: str) -> str:
    """Decode a raw header value (RFC 2047 words, raw 8-bit bytes) without raising."""
    value = re.sub(r"\r?\n(?=[ \t])", "", value)
    try:
        chunks = decode_header(value)
    except Exception:  # noqa: BLE001 — malformed encoded words
        return repair_surrogates(value).strip()
    decoded = [
        chunk if isinstance(chunk, str) else decode_bytes(chunk, charset)[0]
        for chunk, charset in chunks
    ]
    return repair_surrogates("".join(decoded)).strip()


def _all_headers(message: Message) -> list[tuple[str, str]]:
    return [(name, decode_header_value(value)) for name, value in message.raw_items()]


class _BodyCollector:
    """Walks a MIME tree, sorting parts into body text, HTML, files, invite and forwards."""

    def __init__(self, defects: list[str], depth: int) -> None:
        self.defects = defects
        self.depth = depth
        self.plain: list[str] = []
        self.html_parts: list[str] = []
        self.attachments: list[Attachment] = []
        self.calendar: CalendarInvite | None = None
        self.forwarded: list[ForwardedMessage] = []
        self._parts = 0

    def text(self) -> str:
        plain = "\n\n".join(self.plain).strip("\n")
        if plain.strip() or not self.html_parts:
            return plain
        return html_to_text("\n".join(self.html_parts))

    def html(self) -> str | None:
        return sanitize_html("\n".join(self.html_parts)) if self.html_parts else None

    def visit(self, part: Message, parent_type: str = "") -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            if self._parts == MAX_PARTS + 1:
                self.defects.append(f"more than {MAX_PARTS} MIME parts; rest ignored")
            return
        self.defects.extend(type(defect).__name__ for defect in part.defects)
        content_type = _guarded(self.defects, "Content-Type", part.get_content_type, "text/plain")
        if parent_type == "multipart/report" and not content_type.startswith("text/"):
            return  # the machine-readable report and the returned copy of the bounced mail
        # Only structured payloads are fetched here: for a leaf, get_payload() may
        # try the declared charset and raise.
        children = part.get_payload() if part.is_multipart() else None
        if content_type.startswith("multipart/") and children is not None:
            for child in children:
                self.visit(child, content_type)
        elif content_type in ("message/rfc822", "message/global"):
            self._visit_attached_message(children)
        elif not content_type.startswith(("message/", "multipart/")):
            self._visit_leaf(part, content_type)
        elif children is None:
            # e.g. a multipart whose boundary never appears: keep the text we have.
            self.defects.append(f"{content_type} without parts")
            self.plain.append(self._decode(part, _payload_bytes(part, self.defects)))

    def _visit_attached_message(self, payload: object) -> None:
        inner = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(inner, Message):
            self.defects.append("message/rfc822 part without a message")
        elif self.depth >= MAX_FORWARD_DEPTH:
            self.defects.append("forwarded messages nested too deeply")
        else:
            self.forwarded.extend(_forwarded(inner, self.defects, self.depth + 1))

    def _visit_leaf(self, part: Message, content_type: str) -> None:
        data = _payload_bytes(part, self.defects)
        disposition = _guarded(
            self.defects, "Content-Disposition", part.get_content_disposition, None
        )
        filename = _filename(part, self.defects)
        is_body = disposition != "attachment" and filename is None
        if content_type in _CALENDAR_TYPES and self.calendar is None:
            self.calendar = parse_invite(self._decode(part, data))
            if is_body:
                return  # the invite itself, not a file someone attached
        if is_body and content_type == "text/plain":
            self.plain.append(_unflow(part, self._decode(part, data), self.defects))
        elif is_body and content_type == "text/html":
            self.html_parts.append(self._decode(part, data))
        else:
            self.attachments.append(
                self._attachment(part, content_type, data, filename, disposition)
            )

    def _decode(self, part: Message, data: bytes) -> str:
        charset = _guarded(self.defects, "charset", part.get_content_charset, None)
        text, repaired = decode_bytes(data, charset)
        if repaired:
            self.defects.append(f"body not in its declared charset {charset!r}")
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def _attachment(
        self,
        part: Message,
        content_type: str,
        data: bytes,
        filename: str | None,
        disposition: str | None,
    ) -> Attachment:
        content_id = _first_id(_HeaderReader(part, self.defects).text("Content-ID"))
        extension = mimetypes.guess_extension(content_type) or ".bin"
        return Attachment(
            filename=filename or f"attachment-{len(self.attachments) + 1}{extension}",
            content_type=content_type,
            data=data,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            content_id=content_id,
            # Parts referenced by Content-ID are pictures inside the HTML.
            inline=disposition == "inline" or (disposition is None and content_id is not None),
        )


def _forwarded(message: Message, defects: list[str], depth: int) -> list[ForwardedMessage]:
    """A message attached as message/rfc822, plus any messages attached to it in turn."""
    headers = _HeaderReader(message, defects)
    body = _BodyCollector(defects, depth)
    body.visit(message)
    senders = headers.addresses("From")
    own = ForwardedMessage(
        from_=senders[0] if senders else None,
        to=headers.addresses("To"),
        cc=headers.addresses("Cc"),
        date=parse_date(headers.text("Date")),
        subject=headers.text("Subject") or "",
        text=body.text(),
        message_id=_first_id(headers.text("Message-ID")),
        attachments=body.attachments,
    )
    return [own, *body.forwarded]


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    data = _guarded(defects, "body", lambda: part.get_payload(decode=True), None)
    if isinstance(data, bytes):
        return data
    payload = _guarded(defects, "body", part.get_payload, "")
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _filename(part: Message, defects: list[str]) -> str | None:
    """The part's file name, reduced to a safe base name."""
    name = _guarded(defects, "filename", part.get_filename, None)
    if not name:
        return None
    cleaned = clean_filename(repair_surrogates(str(name)), default="")
    return cleaned or None


def _unflow(part: Message, text: str, defects: list[str]) -> str:
    """Undo RFC 3676 format=flowed soft line breaks so wrapped lines read whole."""
    params = _guarded(defects, "format", lambda: dict(part.get_params() or []), {})
    if str(params.get("format", "")).lower() != "flowed":
        return text
    delete_space = str(params.get("delsp", "")).lower() == "yes"
    lines: list[str] = []
    carry = ""
    for line in text.split("\n"):
        line = line.removeprefix(" ")  # space-stuffing
        if line.endswith(" ") and line != "-- ":
            carry += line[:-1] if delete_space else line
        else:
            lines.append(carry + line)
            carry = ""
    if carry:
        lines.append(carry)
    return "\n".join(lines)


def _override(preamble: str) -> tuple[Address | None, str]:
    """A "From: someone@example.com" first line chooses whom the mail is logged on."""
    lines = preamble.splitlines()
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None, ""
    match = _OVERRIDE.match(lines[first])
    found = addresses_in_text(match.group(1)) if match else []
    if not found:
        return None, preamble.strip()
    return found[0], "\n".join(lines[first + 1 :]).strip()


def _first_id(value: str | None) -> str | None:
    ids = _all_ids(value)
    return ids[0] if ids else None


def _all_ids(value: str | None) -> list[str]:
    if not value:
        return []
    bracketed = _MESSAGE_ID.findall(value)
    # Some clients drop the angle brackets; take whitespace-separated ids then.
    return bracketed or [token for token in value.split() if "@" in token]


def _is_auto_reply(headers: _HeaderReader, subject: str) -> bool:
    auto_submitted = (headers.text("Auto-Submitted") or "").split(";")[0].strip().lower()
    precedence = (headers.text("Precedence") or "").strip().lower()
    return (
        auto_submitted not in ("", "no")
        or headers.text("X-Autoreply") is not None
        or headers.text("X-Autorespond") is not None
        or precedence in ("auto_reply", "bulk", "junk")
        or _AUTO_SUBJECT.match(subject) is not None
    )


def _is_bounce(
    message: Message, headers: _HeaderReader, senders: list[Address], is_auto_reply: bool
) -> bool:
    defects: list[str] = []  # already recorded while walking the body
    report_type = _guarded(defects, "report-type", lambda: message.get_param("report-type"), None)
    is_report = (
        _guarded(defects, "Content-Type", message.get_content_type, "") == "multipart/report"
        and str(report_type).lower() == "delivery-status"
    )
    from_daemon = any(a.email.partition("@")[0] in _BOUNCE_SENDERS for a in senders)
    # RFC 3834 asks auto-responders for a null Return-Path too, so on its own it
    # only means "bounce" when nothing says "auto-reply".
    null_return_path = (headers.text("Return-Path") or "").replace(" ", "") == "<>"
    return (
        is_report
        or from_daemon
        or headers.text("X-Failed-Recipients") is not None
        or (null_return_path and not is_auto_reply)
    )
