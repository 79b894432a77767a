"""Offering a file for download under a name people chose (a contact's name, say).

Promise: content_disposition(filename) is a Content-Disposition header value that any name
fits in, whatever its characters: `attachment; filename="…"` with a plain-ASCII fallback
(accents folded, anything but letters, digits, space, dot, dash and underscore dropped), plus
`filename*=UTF-8''…` (RFC 5987/6266) with the exact name whenever the fallback differs. It never
raises and never lets a name break the header (quotes, CR/LF and `;` cannot get through).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9 ._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"\s+", " ", _UNSAFE.sub("", folded)).strip(" .")


def content_disposition(filename: str, fallback: str = "download") -> str:
    """`fallback` names the file (before its extension) when nothing of the name is ASCII."""
    exact = _CONTROL.sub("", filename or "").strip() or fallback
    stem, dot, extension = exact.rpartition(".")
    if not stem:
        stem, dot, extension = exact, "", ""
    ascii_name = (_ascii(stem) or fallback) + (f".{_ascii(extension)}" if dot else "")
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != exact:
        value += "; filename*=UTF-8''" + quote(exact, safe="")
    return value
