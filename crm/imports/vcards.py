"""An address book (.vcf, vCard 2.1/3.0/4.0, as Apple Contacts, Google and Outlook write it) as
the CSV text the import reads: one row per card, under the columns of `export_columns.VCARD`.

So a vCard import is a CSV import from here on: the same mapping page, dry run, duplicate
policy, error report and revert; nothing here writes anything.
"""

from __future__ import annotations

import csv
import io
import quopri
import re

import vobject

from crm.imports.export_columns import VCARD, VCARD_SLOTS

CARD = re.compile(r"BEGIN:VCARD.*?END:VCARD", re.IGNORECASE | re.DOTALL)
# Apple labels a value through its group: "item1.TEL:…" + "item1.X-ABLabel:_$!<Mobile>!$_".
_APPLE_LABEL = re.compile(r"_\$!<(.*)>!\$_")


class Unreadable(ValueError):
    """No card could be read; the message is safe to show."""


def is_vcard(filename: str | None, text: str) -> bool:
    return (filename or "").lower().endswith((".vcf", ".vcard")) or text.lstrip()[:11].upper() == (
        "BEGIN:VCARD"
    )


def _text(value) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value if _text(v))
    return str(value or "").strip()


def _types(prop, labels: dict[str, str]) -> str:
    """The words that say what a number or address is for ("work", "cell", "iPhone")."""
    words = list(getattr(prop, "singletonparams", []))  # vCard 2.1's bare types: TEL;CELL:…
    for name, values in prop.params.items():
        if name.upper() == "TYPE":
            words += [v for value in values for v in value.split(",")]
    group = (getattr(prop, "group", None) or "").lower()
    if group in labels:
        words.append(labels[group])
    skip = {"internet", "voice", "pref", "x400"}
    return " ".join(w for w in words if w.lower() not in skip)


def _birthday(value) -> str:
    text = _text(value)
    if re.fullmatch(r"\d{8}", text):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text[:10] if re.match(r"\d{4}-\d{2}-\d{2}", text) else text


def _card_row(card) -> dict[str, object]:
    contents = card.contents
    labels = {
        (getattr(p, "group", None) or "").lower(): _APPLE_LABEL.sub(r"\1", _text(p.value))
        for p in contents.get("x-ablabel", [])
    }
    row: dict[str, object] = {}
    if "fn" in contents:
        row["Full name"] = _text(card.fn.value)
    if "n" in contents:
        name = card.n.value
        row["First name"] = _text(getattr(name, "given", ""))
        row["Last name"] = _text(getattr(name, "family", ""))
    if "org" in contents:
        org = card.org.value
        row["Organization"] = _text(org[0] if isinstance(org, list) and org else org)
    if "title" in contents:
        row["Job title"] = _text(card.title.value)
    for kind, column in (("email", "Email"), ("tel", "Phone")):
        values = []
        for prop in contents.get(kind, []):
            value = _text(prop.value).removeprefix("tel:")
            if value and value not in [v for v, _ in values]:
                values.append((value, _types(prop, labels)))
        row[column] = values
    addresses = contents.get("adr", [])
    if addresses:
        work = [a for a in addresses if "work" in _types(a, labels).lower()]
        address = (work or addresses)[0].value
        row["Street"] = _text(getattr(address, "street", ""))
        row["City"] = _text(getattr(address, "city", ""))
        row["Region"] = _text(getattr(address, "region", ""))
        row["Postal code"] = _text(getattr(address, "code", ""))
        row["Country"] = _text(getattr(address, "country", ""))
    if "url" in contents:
        row["Website"] = _text(card.url.value)
    if "categories" in contents:
        row["Categories"] = ", ".join(_text(v) for v in card.categories.value if _text(v))
    if "note" in contents:
        row["Note"] = _text(card.note.value)
    if "bday" in contents:
        row["Birthday"] = _birthday(card.bday.value)
    return row


_QP = re.compile(r"^([^:]*?);(?:ENCODING=)?QUOTED-PRINTABLE([^:]*):(.*)$", re.IGNORECASE)
_CHARSET = re.compile(r";CHARSET=([\w-]+)", re.IGNORECASE)


def _unquote(block: str) -> str:
    """vCard 2.1 (Outlook) values in quoted-printable, in the CHARSET they name, as plain
    escaped text: vobject reads quoted-printable as UTF-8 only."""
    lines, out = block.splitlines(), []
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _QP.match(line)
        if not match:
            out.append(line)
            i += 1
            continue
        name, params, value = match.groups()
        while value.endswith("=") and i + 1 < len(lines):  # a soft line break
            i += 1
            value = value[:-1] + lines[i]
        i += 1
        params = name + params
        charset = _CHARSET.search(params)
        raw = quopri.decodestring(value.encode("ascii", "replace"))
        try:
            text = raw.decode(charset.group(1) if charset else "utf-8")
        except (UnicodeDecodeError, LookupError):
            text = raw.decode("cp1252", "replace")
        text = text.replace("\\", "\\\\").replace("\r\n", "\n").replace("\n", "\\n")
        out.append(f"{_CHARSET.sub('', params)}:{text}")
    return "\r\n".join(out)


def _read(block: str) -> dict[str, object]:
    """One card's row; a card vobject cannot read keeps the name it shows, so the dry run
    lists it (and its row in the error report) instead of it vanishing."""
    try:
        return _card_row(vobject.readOne(_unquote(block), ignoreUnreadable=True))
    except Exception:  # noqa: BLE001 (vobject raises many kinds; the card is the user's data)
        name = re.search(r"^FN[^:\n]*:(.*)$", block, re.IGNORECASE | re.MULTILINE)
        return {"Full name": name.group(1).strip() if name else ""}


def to_csv(text: str) -> str:
    """CSV text (comma separated, a header row) of every card in `text`."""
    cards = [_read(block) for block in CARD.findall(text)]
    if not cards:
        raise Unreadable("No contact cards (BEGIN:VCARD … END:VCARD) were found in that file.")
    slots = {
        column: min(VCARD_SLOTS, max(len(c.get(column, [])) for c in cards) or 1)
        for column in ("Email", "Phone")
    }
    header = []
    for column in VCARD:
        match = re.fullmatch(r"(Email|Phone) (\d+)( type)?", column)
        if match is None or int(match.group(2)) <= slots[match.group(1)]:
            header.append(column)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for card in cards:
        cells = []
        for column in header:
            match = re.fullmatch(r"(Email|Phone) (\d+)( type)?", column)
            if match:
                values = card.get(match.group(1), [])
                n = int(match.group(2)) - 1
                cells.append(values[n][1 if match.group(3) else 0] if n < len(values) else "")
            else:
                cells.append(card.get(column, ""))
        writer.writerow(cells)
    return out.getvalue()
