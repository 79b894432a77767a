"""One contact as a vCard (the contact list's CSV export lives with the list, in
crm.contacts.export)."""

from __future__ import annotations

from crm.models import Contact, utcnow

# --- vCard ------------------------------------------------------------------------------------


def _v(value: object) -> str:
    text = "" if value is None else str(value)
    return (
        text.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """RFC 6350 line folding at 75 octets (continuations start with a space)."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, current = [], b""
    for ch in line:
        b = ch.encode()
        if len(current) + len(b) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += b
    parts.append(current.decode())
    return "\r\n ".join(parts)


def vcard(contact: Contact) -> str:
    """A vCard 3.0 (the version phones and address books read best) of one contact."""
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"N:{_v(contact.last_name)};{_v(contact.first_name)};;;",
        f"FN:{_v(contact.name)}",
    ]
    if contact.company:
        lines.append(f"ORG:{_v(contact.company.name)}")
    if contact.title:
        lines.append(f"TITLE:{_v(contact.title)}")
    for e in contact.emails:
        lines.append(f"EMAIL;TYPE=INTERNET,{_v(e.label.upper())}:{e.email}")
    for p in contact.phones:
        kind = "CELL" if p.label in ("mobile", "cell") else _v(p.label.upper())
        lines.append(f"TEL;TYPE={kind}:{p.e164}")
    if contact.address_line:
        parts = (contact.street, contact.city, contact.region, contact.postal_code, contact.country)
        lines.append("ADR;TYPE=WORK:;;" + ";".join(_v(x) for x in parts))
    if contact.website:
        lines.append(f"URL:{contact.website}")
    for url in (contact.social or {}).values():
        if url:
            lines.append(f"URL:{url}")
    if contact.notes:
        lines.append(f"NOTE:{_v(contact.notes)}")
    lines.append(f"REV:{utcnow().strftime('%Y%m%dT%H%M%SZ')}")
    lines.append("END:VCARD")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
