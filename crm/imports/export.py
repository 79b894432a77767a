"""One contact as a vCard (the contact list's CSV export lives with the list, in
crm.contacts.export)."""

from __future__ import annotations

import vobject

from crm.models import Contact, utcnow

# --- vCard ------------------------------------------------------------------------------------


# TYPE values a reader knows, per label; any other label (labels are free text) gets none.
_EMAIL_TYPES = {"work": "WORK", "personal": "HOME", "home": "HOME"}
_PHONE_TYPES = {"mobile": "CELL", "cell": "CELL", "work": "WORK", "home": "HOME"}


def vcard(contact: Contact) -> str:
    """A vCard 3.0 (the version phones and address books read best) of one contact.

    Built and serialized by vobject, which escapes every value and folds long lines, so no
    value a person typed (a website with a line break, say) can add a property of its own.
    """
    card = vobject.vCard()
    card.add("n").value = vobject.vcard.Name(
        family=contact.last_name or "", given=contact.first_name or ""
    )
    card.add("fn").value = contact.name
    if contact.company:
        card.add("org").value = [contact.company.name]
    if contact.title:
        card.add("title").value = contact.title
    for e in contact.emails:
        prop = card.add("email")
        prop.value = e.email
        prop.type_param = ["INTERNET"] + [t for t in [_EMAIL_TYPES.get(e.label)] if t]
    for p in contact.phones:
        prop = card.add("tel")
        prop.value = p.e164
        prop.type_param = _PHONE_TYPES.get(p.label, "VOICE")
    if contact.address_line:
        prop = card.add("adr")
        prop.value = vobject.vcard.Address(
            street=contact.street or "",
            city=contact.city or "",
            region=contact.region or "",
            code=contact.postal_code or "",
            country=contact.country or "",
        )
        prop.type_param = "WORK"
    for url in [contact.website, *(contact.social or {}).values()]:
        if url:
            card.add("url").value = str(url)
    if contact.notes:
        card.add("note").value = contact.notes
    card.add("rev").value = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return card.serialize()
