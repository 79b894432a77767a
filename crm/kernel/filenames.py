"""File names that came from outside (mail attachments): safe to store, show and serve.

`clean_filename(name)` promises a non-empty base name of at most 255 characters with no
directory part, no control or format characters (so no bidirectional overrides that make
"nul\\u202egpj.exe" display as "nulexe.jpg", no zero-width characters, no NUL or line breaks),
no leading dots, and single spaces; the real extension stays at the end, where it shows.

`content_disposition(name)` serves a download under such a name (a contact's name, say): the
name goes through clean_filename() (a slash is a character there, not a directory), then
`attachment; filename="…"` with a plain-ASCII fallback (accents folded, anything but letters,
digits, space, dot, dash and underscore dropped), plus `filename*=UTF-8''…` (RFC 5987/6266)
with the exact name whenever the fallback differs. It never raises and never lets a name break
the header (quotes, CR/LF and `;` cannot get through).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_LENGTH = 255
# Cc control, Cf format (bidi overrides and isolates, zero-width joiners, BOM), Cs lone
# surrogates, Co private use, Cn unassigned; Zl/Zp line and paragraph separators.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_DIRECTORIES = re.compile(r"[/\\]")


def clean_filename(name: str | None, default: str = "attachment") -> str:
    """`name` made safe to store, show and serve as a download name (see the module's promise)."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = _DIRECTORIES.split(text)[-1]  # "C:\\Users\\…\\x.pdf" and "../../x" keep only "x"
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    text = " ".join(text.split()).lstrip(". ").rstrip(" ")
    if not text:
        return default
    if len(text) > MAX_LENGTH:
        stem, dot, extension = text.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            text = stem[: MAX_LENGTH - len(extension) - 1].rstrip() + "." + extension
        else:
            text = text[:MAX_LENGTH]
    return text


_UNSAFE = re.compile(r"[^A-Za-z0-9 ._-]+")


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"\s+", " ", _UNSAFE.sub("", folded)).strip(" .")


def content_disposition(filename: str, fallback: str = "download") -> str:
    """`fallback` names the file (before its extension) when nothing of the name is ASCII."""
    exact = clean_filename(_DIRECTORIES.sub("-", filename or ""), default=fallback)
    stem, dot, extension = exact.rpartition(".")
    if not stem:
        stem, dot, extension = exact, "", ""
    ascii_name = (_ascii(stem) or fallback) + (f".{_ascii(extension)}" if dot else "")
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != exact:
        value += "; filename*=UTF-8''" + quote(exact, safe="")
    return value
