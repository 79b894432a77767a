"""Value types produced by the inbound parser (re-exported by `crm.inbound.parsing`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Address:
    name: str
    email: str

    def __post_init__(self) -> None:
        # Local parts are case-sensitive in theory, never in practice; matching
        # contacts needs one canonical spelling.
        object.__setattr__(self, "email", self.email.strip().lower())
        object.__setattr__(self, "name", self.name.strip())

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes = field(repr=False)
    size: int
    sha256: str
    content_id: str | None
    inline: bool


@dataclass(frozen=True)
class CalendarInvite:
    uid: str | None
    summary: str
    start: datetime | None
    end: datetime | None
    location: str
    organizer: Address | None
    attendees: list[Address]
    method: str | None


@dataclass(frozen=True)
class ForwardedMessage:
    from_: Address | None
    to: list[Address]
    cc: list[Address]
    date: datetime | None
    subject: str
    text: str
    message_id: str | None
    # Only messages forwarded as attachments carry their own attachments; an
    # inline forward's files are re-attached to the outer message by the client.
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    subject: str
    from_: Address | None
    to: list[Address]
    cc: list[Address]
    reply_to: list[Address]
    date: datetime | None
    text: str
    html: str | None
    attachments: list[Attachment]
    calendar: CalendarInvite | None
    is_auto_reply: bool
    is_bounce: bool
    forwarded: list[ForwardedMessage]
    override_from: Address | None
    headers: list[tuple[str, str]]
    defects: list[str]
    # What the sender typed above a forwarded block or override line; empty for
    # mail that is neither.
    note: str = ""


# Deliberately permissive: it has to find addresses in text that clients have
# mangled ("Name [mailto:a@b.c]", "a@b.c<mailto:a@b.c>", "**Name** <a@b.c>").
# The lookbehind makes a match start only at the beginning of a word, which keeps
# the search linear on long runs of letters that contain no "@".
_LOCAL_CHAR = r"A-Za-z0-9!#$%&'+/=?^_`{|}~.-"
EMAIL_RE = re.compile(rf"(?<![{_LOCAL_CHAR}])[{_LOCAL_CHAR}]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_NAME_JUNK = " \t\"'<>[](),;:*"


def addresses_in_text(text: str) -> list[Address]:
    """Every address in free text, each named by the words just before it."""
    found: dict[str, Address] = {}
    cursor = 0
    for match in EMAIL_RE.finditer(text):
        email = match.group().strip("'.")
        name = text[cursor : match.start()].removesuffix("mailto:").strip(_NAME_JUNK)
        cursor = match.end()
        _keep_named(found, Address(name, email))
    return list(found.values())


def _keep_named(found: dict[str, Address], address: Address) -> None:
    """Add an address once, upgrading a bare duplicate to a named one."""
    known = found.get(address.email)
    if known is None or (not known.name and address.name):
        found[address.email] = address


def dedupe(addresses: list[Address]) -> list[Address]:
    """Drop repeats, keeping first-seen order and the first non-empty name."""
    found: dict[str, Address] = {}
    for address in addresses:
        _keep_named(found, address)
    return list(found.values())
