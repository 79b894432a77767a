"""Likely duplicates, and merging two contacts (undoable for 30 days)."""

from __future__ import annotations

from datetime import timedelta

from rapidfuzz import fuzz
from sqlalchemy import and_, delete, func, insert, select, update

from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.kernel import audit, events, normalize, restore
from crm.kernel.timeline import record
from crm.models import (
    ActivityContact,
    ActivityKind,
    Contact,
    ContactEmail,
    ContactMerge,
    ContactPhone,
    Lifecycle,
    Task,
    contact_tag,
    deal_contact,
    utcnow,
)

NAME_SIMILARITY = 85  # name_similarity(), 0–100
UNDO_DAYS = 30
# Fields chosen one by one on the merge screen.
MERGE_FIELDS = (
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("title", "Title"),
    ("company_id", "Company"),
    ("website", "Website"),
    ("owner_id", "Owner"),
    ("lifecycle", "Lifecycle stage"),
    ("source", "Source"),
    ("street", "Street"),
    ("city", "City"),
    ("region", "Region"),
    ("postal_code", "Postal code"),
    ("country", "Country"),
    ("notes", "Notes"),
)


def _emails(data: dict) -> list[str]:
    # Stored addresses are lower-cased; a lookup key needs no full validation (which is slow),
    # and an address that is not valid simply matches nothing.
    out = []
    for item in data.get("emails") or []:
        value = item.get("email") if isinstance(item, dict) else item
        if value and "@" in value:
            out.append(value.strip().lower())
    return out


def _phones(data: dict) -> list[str]:
    out = []
    for item in data.get("phones") or []:
        value = item.get("phone") if isinstance(item, dict) else item
        try:
            out.append(
                value if value.startswith("+") and value[1:].isdigit() else normalize.phone(value)
            )
        except (normalize.BadValue, AttributeError):
            continue
    return out


def name_similarity(first: str, last: str, other_first: str, other_last: str) -> float:
    """0–100: how likely two names at one company are the same person.

    The whole name may have a typo (Jonathon/Jonathan Smith), a first name may be short for
    the other (Jon/Jonathan), the order may be swapped; but two different first names that
    merely look alike (Jon/Jan, Imp1/Imp2) are different people.
    """
    first, last = first.strip().lower(), last.strip().lower()
    other_first, other_last = (
        (other_first or "").strip().lower(),
        (other_last or "").strip().lower(),
    )
    whole = fuzz.token_sort_ratio(f"{first} {last}", f"{other_first} {other_last}")
    if whole >= 97:
        return whole
    if fuzz.ratio(last, other_last) < 90:
        return 0
    if first and other_first:
        short, long_ = sorted((first, other_first), key=len)
        if len(short) >= 3 and short.isalpha() and long_.startswith(short):
            return 90.0  # a short form: Jon / Jonathan, Chris / Christine
        if len(short) >= 5 and fuzz.ratio(first, other_first) >= 85:
            return fuzz.ratio(first, other_first)  # a typo in a long enough first name
    return 0


def find_duplicates(
    team_id: int, data: dict, *, exclude_id: int | None = None, limit: int = 5
) -> list[Contact]:
    """Contacts of the team that are likely the same person as `data` (contact data keys).

    The same email or phone, or a similar name at the same company. Exact matches come first.
    Each check is one indexed query, so this is cheap enough to run on every create and row.
    """
    live = and_(Contact.team_id == team_id, Contact.deleted_at.is_(None))
    if exclude_id:
        live = and_(live, Contact.id != exclude_id)
    ids: list[int] = []
    if emails := _emails(data):
        ids += db.session.scalars(
            select(ContactEmail.contact_id)
            .join(Contact, Contact.id == ContactEmail.contact_id)
            .where(live, ContactEmail.team_id == team_id, ContactEmail.email.in_(emails))
        ).all()
    if phones := _phones(data):
        ids += db.session.scalars(
            select(ContactPhone.contact_id)
            .join(Contact, Contact.id == ContactPhone.contact_id)
            .where(live, ContactPhone.team_id == team_id, ContactPhone.e164.in_(phones))
        ).all()
    first = (data.get("first_name") or "").strip().lower()
    last = (data.get("last_name") or "").strip().lower()
    if (first or last) and data.get("company_id"):
        candidates = db.session.execute(
            select(Contact.id, Contact.first_name, Contact.last_name)
            .where(live, Contact.company_id == data["company_id"])
            .limit(2000)
        ).all()
        scored = sorted(
            (
                (score, cid)
                for cid, f, la in candidates
                if (score := name_similarity(first, last, f, la)) >= NAME_SIMILARITY
            ),
            reverse=True,
        )
        ids += [cid for _, cid in scored]
    ids = list(dict.fromkeys(ids))[:limit]
    if not ids:
        return []
    found = {c.id: c for c in db.session.scalars(select(Contact).where(Contact.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def duplicate_pairs(team_id: int, limit: int = 100) -> list[tuple[Contact, Contact, str]]:
    """Pairs in the whole team: a shared phone, or the same name at the same company."""
    live = and_(Contact.team_id == team_id, Contact.deleted_at.is_(None))
    pairs: list[tuple[int, int, str]] = []
    shared_phone = db.session.execute(
        select(func.min(ContactPhone.contact_id), func.max(ContactPhone.contact_id))
        .join(Contact, Contact.id == ContactPhone.contact_id)
        .where(live, ContactPhone.team_id == team_id)
        .group_by(ContactPhone.e164)
        .having(func.count(func.distinct(ContactPhone.contact_id)) > 1)
        .limit(limit)
    ).all()
    pairs += [(a, b, "same phone") for a, b in shared_phone]
    same_name = db.session.execute(
        select(func.min(Contact.id), func.max(Contact.id))
        .where(live, Contact.company_id.is_not(None), Contact.sort_name != "")
        .group_by(Contact.company_id, Contact.sort_name)
        .having(func.count() > 1)
        .limit(limit)
    ).all()
    pairs += [(a, b, "same name and company") for a, b in same_name]
    seen, out = set(), []
    ids = {i for a, b, _ in pairs for i in (a, b)}
    contacts = {c.id: c for c in db.session.scalars(select(Contact).where(Contact.id.in_(ids)))}
    for a, b, why in pairs:
        if (a, b) not in seen and a in contacts and b in contacts:
            seen.add((a, b))
            out.append((contacts[a], contacts[b], why))
    return out[:limit]


def _plain(value):
    return value.value if isinstance(value, Lifecycle) else value


def merge(
    kept: Contact, other: Contact, actor_id: int | None, choices: dict[str, str]
) -> ContactMerge:
    """Merge `other` into `kept`; `choices` maps a field to "kept" or "other". Commits.

    Everything of `other` moves to `kept`: emails, phones, timeline links, deals, tasks and
    tags. `other` goes to the trash. The snapshot records exactly what moved, for undo().
    """
    if kept.id == other.id or kept.team_id != other.team_id:
        raise Invalid("Choose two different contacts to merge.")
    if other.deleted_at is not None or kept.deleted_at is not None:
        raise Conflict("One of these contacts is in the trash.")
    team_id = kept.team_id
    before = {key: _plain(getattr(kept, key)) for key, _ in MERGE_FIELDS}
    changes: dict = {}
    for key, _ in MERGE_FIELDS:
        if choices.get(key) == "other" and getattr(other, key) != getattr(kept, key):
            changes[key] = [_plain(getattr(kept, key)), _plain(getattr(other, key))]
            setattr(kept, key, getattr(other, key))
    kept.sort_name = normalize.sort_name(kept.first_name, kept.last_name) or kept.sort_name
    social_before = dict(kept.social or {})
    kept.social = {**(other.social or {}), **(kept.social or {})}

    email_ids = [e.id for e in other.emails]
    phone_ids = [p.id for p in other.phones]
    offset = len(kept.emails)
    for i, e in enumerate(other.emails):
        e.position = offset + i
    offset = len(kept.phones)
    for i, p in enumerate(other.phones):
        p.position = offset + i
    db.session.flush()
    db.session.execute(
        update(ContactEmail).where(ContactEmail.id.in_(email_ids)).values(contact_id=kept.id)
    )
    db.session.execute(
        update(ContactPhone).where(ContactPhone.id.in_(phone_ids)).values(contact_id=kept.id)
    )

    # Timeline links and deals: move, except where `kept` is linked already (then drop ours).
    kept_acts = select(ActivityContact.activity_id).where(ActivityContact.contact_id == kept.id)
    dropped_links = db.session.execute(
        select(ActivityContact.activity_id, ActivityContact.occurred_at).where(
            ActivityContact.contact_id == other.id, ActivityContact.activity_id.in_(kept_acts)
        )
    ).all()
    moved_acts = db.session.scalars(
        select(ActivityContact.activity_id).where(
            ActivityContact.contact_id == other.id, ActivityContact.activity_id.not_in(kept_acts)
        )
    ).all()
    db.session.execute(
        delete(ActivityContact).where(
            ActivityContact.contact_id == other.id,
            ActivityContact.activity_id.in_([a for a, _ in dropped_links]),
        )
    )
    db.session.execute(
        update(ActivityContact)
        .where(ActivityContact.contact_id == other.id, ActivityContact.activity_id.in_(moved_acts))
        .values(contact_id=kept.id)
    )
    kept_deals = select(deal_contact.c.deal_id).where(deal_contact.c.contact_id == kept.id)
    other_deals = db.session.scalars(
        select(deal_contact.c.deal_id).where(deal_contact.c.contact_id == other.id)
    ).all()
    shared_deals = set(db.session.scalars(kept_deals).all()) & set(other_deals)
    moved_deals = [d for d in other_deals if d not in shared_deals]
    db.session.execute(delete(deal_contact).where(deal_contact.c.contact_id == other.id))
    if moved_deals:
        db.session.execute(
            insert(deal_contact), [{"deal_id": d, "contact_id": kept.id} for d in moved_deals]
        )
    task_ids = db.session.scalars(
        select(Task.id).where(Task.team_id == team_id, Task.contact_id == other.id)
    ).all()
    db.session.execute(update(Task).where(Task.id.in_(task_ids)).values(contact_id=kept.id))
    kept_tags = set(
        db.session.scalars(select(contact_tag.c.tag_id).where(contact_tag.c.contact_id == kept.id))
    )
    other_tags = set(
        db.session.scalars(select(contact_tag.c.tag_id).where(contact_tag.c.contact_id == other.id))
    )
    added_tags = sorted(other_tags - kept_tags)
    if added_tags:
        db.session.execute(
            insert(contact_tag), [{"contact_id": kept.id, "tag_id": t} for t in added_tags]
        )
    if other.last_activity_at and (
        kept.last_activity_at is None or other.last_activity_at > kept.last_activity_at
    ):
        kept.last_activity_at = other.last_activity_at

    now = utcnow()
    other.deleted_at, other.deleted_by_id = now, actor_id
    snapshot = {
        "fields": before,
        # What the merge wrote: undo puts back only what still holds these values.
        "written": {key: new for key, (_, new) in changes.items()},
        "social": social_before,
        "social_written": restore.written(social_before, kept.social),
        "emails": email_ids,
        "phones": phone_ids,
        "activities_moved": moved_acts,
        "activities_dropped": [[a, t.isoformat()] for a, t in dropped_links],
        "deals_moved": moved_deals,
        "deals_shared": sorted(shared_deals),
        "tasks": task_ids,
        "tags_added": added_tags,
    }
    record_ = ContactMerge(
        team_id=team_id,
        created_at=now,
        actor_id=actor_id,
        kept_id=kept.id,
        merged_id=other.id,
        snapshot=snapshot,
    )
    db.session.add(record_)
    summary = {"merged_id": [None, other.id], "merged_name": [None, other.name]} | changes
    audit.write(
        team_id=team_id,
        actor_id=actor_id,
        entity_type="contact",
        entity_id=kept.id,
        action="merge",
        changes=summary,
    )
    audit.write(
        team_id=team_id,
        actor_id=actor_id,
        entity_type="contact",
        entity_id=other.id,
        action="merged_into",
        changes={"kept_id": [None, kept.id]},
    )
    events.emit(
        "contact.updated",
        team_id=team_id,
        record_type="contact",
        record_id=kept.id,
        actor_id=actor_id,
        changes=summary,
    )
    events.emit(
        "contact.deleted",
        team_id=team_id,
        record_type="contact",
        record_id=other.id,
        actor_id=actor_id,
        changes={"merged_into": [None, kept.id]},
    )
    record(
        team_id=team_id,
        kind=ActivityKind.SYSTEM,
        author_id=actor_id,
        contact_ids=[kept.id],
        subject=f"Merged {other.name} into this contact",
        data={"merge": summary},
    )
    db.session.commit()
    return record_


def can_undo(merge_: ContactMerge) -> bool:
    return merge_.undone_at is None and utcnow() - merge_.created_at < timedelta(days=UNDO_DAYS)


SOCIAL_LABELS = {"linkedin": "LinkedIn profile", "x": "X profile"}


def _restore_fields(kept: Contact, snap: dict) -> list[str]:
    """Put back the kept contact's fields the merge wrote and nobody edited since; returns
    the labels of those edited since, which keep their newer values."""
    current = {key: _plain(getattr(kept, key)) for key, _ in MERGE_FIELDS}
    if "written" in snap:
        fields = restore.undo(snap["fields"], snap["written"], current)
    else:  # recorded before merges kept what they wrote: every field goes back, as it did
        fields = restore.Undo(values=dict(snap["fields"]))
    for key, value in fields.values.items():
        setattr(kept, key, Lifecycle(value) if key == "lifecycle" and value else value)
    social = dict(kept.social or {})
    if "social_written" in snap:
        profiles = restore.undo(snap.get("social") or {}, snap["social_written"], social)
    else:
        profiles = restore.Undo(values={k: None for k in social} | (snap.get("social") or {}))
    for key, value in profiles.values.items():
        if value is None:
            social.pop(key, None)
        else:
            social[key] = value
    kept.social = social
    labels = dict(MERGE_FIELDS)
    return [labels[k] for k in fields.kept] + [SOCIAL_LABELS.get(k, k) for k in profiles.kept]


def undo(merge_: ContactMerge, actor_id: int | None) -> Contact:
    """Split a merge back: the kept contact's fields the merge wrote (unless edited since,
    listed in the record's snapshot as "kept_on_undo"), and everything that moved. Commits."""
    if merge_.undone_at is not None:
        raise Conflict("This merge was undone already.")
    if not can_undo(merge_):
        raise Invalid(f"Merges can be undone for {UNDO_DAYS} days; this one is older.")
    kept = db.session.get(Contact, merge_.kept_id)
    other = db.session.get(Contact, merge_.merged_id)
    if kept is None or other is None:
        raise Conflict("One of the merged contacts was deleted for good.")
    snap = merge_.snapshot
    kept_fields = _restore_fields(kept, snap)
    kept.sort_name = normalize.sort_name(kept.first_name, kept.last_name) or kept.sort_name
    db.session.flush()
    db.session.execute(
        update(ContactEmail).where(ContactEmail.id.in_(snap["emails"])).values(contact_id=other.id)
    )
    db.session.execute(
        update(ContactPhone).where(ContactPhone.id.in_(snap["phones"])).values(contact_id=other.id)
    )
    db.session.execute(
        update(ActivityContact)
        .where(
            ActivityContact.contact_id == kept.id,
            ActivityContact.activity_id.in_(snap["activities_moved"]),
        )
        .values(contact_id=other.id)
    )
    from datetime import datetime

    for activity_id, occurred in snap["activities_dropped"]:
        db.session.add(
            ActivityContact(
                activity_id=activity_id,
                contact_id=other.id,
                occurred_at=datetime.fromisoformat(occurred),
            )
        )
    db.session.execute(
        delete(deal_contact).where(
            deal_contact.c.contact_id == kept.id, deal_contact.c.deal_id.in_(snap["deals_moved"])
        )
    )
    back = snap["deals_moved"] + snap["deals_shared"]
    if back:
        db.session.execute(
            insert(deal_contact), [{"deal_id": d, "contact_id": other.id} for d in back]
        )
    db.session.execute(update(Task).where(Task.id.in_(snap["tasks"])).values(contact_id=other.id))
    if snap["tags_added"]:
        db.session.execute(
            delete(contact_tag).where(
                contact_tag.c.contact_id == kept.id, contact_tag.c.tag_id.in_(snap["tags_added"])
            )
        )
    other.untrash()
    merge_.undone_at = utcnow()
    merge_.snapshot = {**snap, "kept_on_undo": kept_fields}
    audit.write(
        team_id=kept.team_id,
        actor_id=actor_id,
        entity_type="contact",
        entity_id=kept.id,
        action="unmerge",
        changes={"merged_id": [other.id, None]},
    )
    audit.write(
        team_id=kept.team_id,
        actor_id=actor_id,
        entity_type="contact",
        entity_id=other.id,
        action="restore",
        changes={"kept_id": [kept.id, None]},
    )
    record(
        team_id=kept.team_id,
        kind=ActivityKind.SYSTEM,
        author_id=actor_id,
        contact_ids=[kept.id, other.id],
        subject=f"Undid the merge of {other.name}",
    )
    db.session.commit()
    return other
