"""Separating what someone just wrote from quoted history and signatures."""

from __future__ import annotations

import re

# "On <date>, <name> wrote:" and its translations; German and Dutch put the name
# after the verb ("Am … schrieb Jana <j@x>:").
_ATTRIBUTION = re.compile(
    r"^\s*(?:On|Le|Am|El|Il|Op)\b.{0,300}?\b(?:wrote|a écrit|schrieb|escribió|ha scritto|schreef)"
    r"\b[^\n]{0,120}:\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ORIGINAL_MARKER = re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_FROM = re.compile(r"^\s*\*?From\*?\s*:", re.IGNORECASE)
_SENT = re.compile(r"^\s*\*?(?:Sent|Date)\*?\s*:", re.IGNORECASE)
_SIGNATURE_DELIMITER = re.compile(r"^-- ?$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(?:Sent from my \w+|Sent from (?:Mail|Outlook|Yahoo Mail) for \w+|Get Outlook for \w+)",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"^\s*>")


def split_quoted(text: str) -> tuple[str, str]:
    """Split a body into (visible, folded).

    Folded is everything from the first signature or reply header on, plus any
    trailing run of ">"-quoted lines. Quotes with answers written between them
    stay visible, since the answers need them as context. A body that would
    fold away entirely is shown whole instead: an empty timeline entry helps
    nobody.
    """
    lines = text.splitlines()
    cut = _trailing_quote_start(lines, _first_hard_cut(lines))
    visible = "\n".join(lines[:cut]).strip("\n")
    if not visible.strip():
        return text.strip("\n"), ""
    return visible.rstrip(), "\n".join(lines[cut:]).strip("\n")


def _first_hard_cut(lines: list[str]) -> int:
    """Index of the first line from which everything is history or signature."""
    for index, line in enumerate(lines):
        if _SIGNATURE_DELIMITER.match(line) or _MOBILE_SIGNATURE.match(line):
            return index
        if _ORIGINAL_MARKER.match(line) or _is_outlook_header(lines, index):
            return index
        if _is_attribution(lines, index) and not _is_interleaved(lines, index + 1):
            return index
    return len(lines)


def _is_outlook_header(lines: list[str], index: int) -> bool:
    """A "From:" line with "Sent:"/"Date:" right below it, optionally under a rule."""
    if _RULE.match(lines[index]):
        index += 1
        while index < len(lines) and not lines[index].strip():
            index += 1
    if index >= len(lines) or not _FROM.match(lines[index]):
        return False
    return any(_SENT.match(line) for line in lines[index + 1 : index + 4])


def _is_attribution(lines: list[str], index: int) -> bool:
    """ "On Mon, … wrote:", which clients often wrap onto a second line."""
    line = lines[index]
    if _ATTRIBUTION.match(line):
        return True
    return index + 1 < len(lines) and bool(_ATTRIBUTION.match(f"{line}\n{lines[index + 1]}"))


def _is_interleaved(lines: list[str], start: int) -> bool:
    """True when someone answered between the quoted lines below an attribution."""
    seen_quote = False
    for line in lines[start:]:
        if _SIGNATURE_DELIMITER.match(line) or _MOBILE_SIGNATURE.match(line):
            break
        if _QUOTED.match(line):
            seen_quote = True
        elif seen_quote and line.strip():
            return True
    return False


def _trailing_quote_start(lines: list[str], end: int) -> int:
    """Start of the quoted run (and its attribution) that ends right at `end`."""
    start = end
    saw_quote = False
    while start > 0 and (not lines[start - 1].strip() or _QUOTED.match(lines[start - 1])):
        saw_quote = saw_quote or bool(_QUOTED.match(lines[start - 1]))
        start -= 1
    if not saw_quote:
        return end
    for width in (1, 2):  # attribution on one line or wrapped over two
        if start - width >= 0 and _is_attribution(lines, start - width):
            return start - width
    return start
