"""File names that came from outside (mail attachments): safe to store, show and serve.

`clean_filename(name)` promises a non-empty base name of at most 255 characters with no
directory part, no control or format characters (so no bidirectional overrides that make
"nul\\u202egpj.exe" display as "nulexe.jpg", no zero-width characters, no NUL or line breaks),
no leading dots, and single spaces; the real extension stays at the end, where it shows.
"""

from __future__ import annotations

import re
import unicodedata

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
