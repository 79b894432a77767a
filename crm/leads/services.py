"""Leads: web-to-lead submissions (spam kept, never dropped), lead status, conversion, fair
assignment. Services take plain arguments, own the commit and raise domain errors.

What a visitor may change (the rule, also in docs/leads.md): a submission only ever touches the
form's own team. On an existing contact (same email) it *fills blanks* among the form's fields,
adds a new phone number and the form's tag, and logs the message; it never overwrites a name,
an owner, a company or any value already there, so sending someone else's address cannot rename
or reassign them.
"""

from __future__ import annotations

import time
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, Signer
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError

from crm import outbox
from crm.contacts import services as contacts
from crm.deals import services as deals
from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import audit, companies, members, tags, timeline, urls
from crm.kernel import normalize as norm
from crm.kernel.fields import CONTACT_LIMITS, clean_text, phone_region
from crm.kernel.ids import parse_id
from crm.models import (
    ActivityKind,
    Contact,
    ContactEmail,
    Lead,
    LeadForm,
    LeadRotation,
    LeadRule,
    LeadStatus,
    LeadSubmission,
    Membership,
    Pipeline,
    Stage,
    SubmissionStatus,
    User,
    new_token,
    utcnow,
)
from crm.tasks import services as tasks

# Names a snippet posts (standard) and the contact fields a form may also ask for.
STANDARD_FIELDS = ("name", "first_name", "last_name", "email", "phone", "company", "message")
CONTACT_FIELDS = ("title", "website", "street", "city", "region", "postal_code", "country")
ASKABLE = STANDARD_FIELDS + CONTACT_FIELDS
FIELD_LABELS = {
    "name": "Name",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "company": "Company",
    "message": "Message",
    "title": "Job title",
    "website": "Website",
    "street": "Street",
    "city": "City",
    "region": "Region",
    "postal_code": "Postal code",
    "country": "Country",
}
TRACKING = (
    "source",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
)
HONEYPOT = "url"  # hidden from people by CSS; bots fill in anything named like a URL
STAMP = "_ts"
MESSAGE_MAX = 5000
RAW_VALUE_MAX = 2000
RULE_MODES = ("none", "round_robin", "field")
LOCKED_RETRIES = 4
OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)


# --- forms (settings) ---------------------------------------------------------------------------


def save_form(team_id: int, form: LeadForm | None, data: dict) -> LeadForm:
    """Create or change a web-to-lead form from plain values; commits."""
    name = clean_text(data.get("name"), 120, "name")
    if not name:
        raise Invalid("Give the form a name.", field="name")
    fields = [f for f in data.get("fields") or [] if f in ASKABLE]
    if not fields:
        raise Invalid("Ask for at least one field.", field="fields")
    if not ({"email", "name", "first_name", "last_name", "phone"} & set(fields)):
        raise Invalid("Ask for an email, a name or a phone number.", field="fields")
    origins = []
    for line in (data.get("allowed_origins") or "").split():
        origin = urls.origin_of(line)
        if origin is None:
            raise Invalid(
                f"{line[:60]} is not an origin like https://example.com.", "allowed_origins"
            )
        origins.append(origin)
    redirect_url = clean_text(data.get("redirect_url"), 500, "redirect_url")
    if redirect_url and urls.origin_of(redirect_url) not in origins:
        raise Invalid(
            "The redirect must go to one of the allowed origins (add it there first).",
            field="redirect_url",
        )
    stage = None
    if data.get("stage_id"):
        stage_id = parse_id(data["stage_id"])
        stage = (
            stage_id
            and db.session.scalars(
                select(Stage).where(Stage.team_id == team_id, Stage.id == stage_id)
            ).first()
        )
        if stage is None:
            raise Invalid("Choose a stage of your pipelines.", field="stage_id")
    if form is None:
        form = LeadForm(team_id=team_id, token=new_token(20))
        db.session.add(form)
    form.name = name
    form.fields = fields
    form.required = [f for f in data.get("required") or [] if f in fields]
    form.hidden = {
        key: value
        for key in ("source", "campaign")
        if (value := clean_text(data.get(key), 100, key))
    }
    form.thank_you = clean_text(data.get("thank_you"), 2000, "thank_you")
    form.redirect_url = redirect_url
    form.allowed_origins = origins
    form.tag = tags.normalize(data.get("tag") or "") or None
    form.stage_id = stage.id if stage else None
    form.create_task = bool(data.get("create_task"))
    db.session.flush()
    if "rule" in data:
        save_rule(team_id, form.id, data["rule"], commit=False)
    db.session.commit()
    return form


def is_allowed_origin(form: LeadForm, origin: str | None) -> bool:
    return urls.origin_of(origin) in (form.allowed_origins or [])


def safe_redirect(form: LeadForm) -> str | None:
    """The form's redirect URL, only while it still points at an allowed origin (the kernel's
    safe-redirect rule, with the form's allowed origins on top)."""
    allowed = form.allowed_origins or []
    if not form.redirect_url or not allowed:
        return None
    return urls.safe_url(form.redirect_url, "", origins=allowed) or None


def rule_for(team_id: int, form_id: int | None) -> LeadRule | None:
    return db.session.scalars(
        select(LeadRule).where(
            LeadRule.team_id == team_id,
            LeadRule.form_id.is_(None) if form_id is None else LeadRule.form_id == form_id,
        )
    ).first()


def save_rule(team_id: int, form_id: int | None, data: dict, *, commit: bool = True) -> LeadRule:
    """A form's assignment rule (form_id) or the team's rule for all new leads (None)."""
    mode = data.get("mode") or "none"
    if mode not in RULE_MODES:
        raise Invalid("Choose how leads are assigned.", field="mode")
    pool = []
    for uid in data.get("pool") or []:
        members.check_member(team_id, uid, field="pool", message="Choose members of this team.")
        if int(uid) not in pool:
            pool.append(int(uid))
    if mode == "round_robin" and not pool:
        raise Invalid("Choose who takes turns.", field="pool")
    fallback = members.check_member(team_id, data.get("fallback_id"), field="fallback_id")
    mapping = {}
    for line in (data.get("mapping") or "").splitlines():
        if not line.strip():
            continue
        value, sep, who = line.rpartition("=")
        user = _member_by_email(team_id, who.strip()) if sep else None
        if not value.strip() or user is None:
            raise Invalid(
                f"Write each line as value = member's email ({line.strip()[:40]}).",
                field="mapping",
            )
        mapping[value.strip().lower()] = user.id
    field = data.get("field") or None
    if mode == "field" and (field not in ASKABLE or not mapping):
        raise Invalid("Choose the field and map its values to members.", field="mapping")
    rule = rule_for(team_id, form_id)
    if rule is None:
        rule = LeadRule(team_id=team_id, form_id=form_id)
        db.session.add(rule)
    rule.mode, rule.pool, rule.field, rule.mapping = mode, pool, field, mapping
    rule.fallback_id = fallback.id if fallback else None
    if commit:
        db.session.commit()
    return rule


def _member_by_email(team_id: int, email: str) -> User | None:
    return db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.team_id == team_id, func.lower(User.email) == email.lower())
    ).first()


# --- fair assignment ----------------------------------------------------------------------------


def assign_round_robin(team_id: int, pool) -> int | None:
    """The next member of `pool` (user ids, in turn order) who is not away; None if nobody.

    The turn is taken with one atomic UPDATE … RETURNING on the pool's rotation row, so
    concurrent submissions (threads, processes, web servers) each get their own turn and spread
    evenly; no Python lock is involved. The caller commits (the row stays locked until then).
    """
    pool = [int(u) for u in dict.fromkeys(pool or [])]
    if not pool:
        return None
    present = set(
        db.session.scalars(
            select(Membership.user_id).where(
                Membership.team_id == team_id,
                Membership.user_id.in_(pool),
                Membership.away.is_(False),
            )
        )
    )
    available = [u for u in pool if u in present]
    if not available:
        return None
    key = ",".join(str(u) for u in sorted(pool))
    turn = _take_turn(team_id, key)
    return available[(turn - 1) % len(available)]


def _take_turn(team_id: int, key: str) -> int:
    stmt = (
        update(LeadRotation)
        .where(LeadRotation.team_id == team_id, LeadRotation.pool_key == key)
        .values(turn=LeadRotation.turn + 1)
        .returning(LeadRotation.turn)
    )
    turn = db.session.execute(stmt).scalar()
    if turn is not None:
        return turn
    # Another request may make the row at the same time: DO NOTHING, then take a turn on it.
    dialect = db.session.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(
        make(LeadRotation)
        .values(team_id=team_id, pool_key=key, turn=0)
        .on_conflict_do_nothing(index_elements=["team_id", "pool_key"])
    )
    return db.session.execute(stmt).scalar()


def choose_assignee(team_id: int, form_id: int | None, values: dict) -> int | None:
    """Who gets a new lead: the form's rule, else the team's rule for all new leads."""
    rule = rule_for(team_id, form_id) if form_id else None
    if rule is None or rule.mode == "none":
        rule = rule_for(team_id, None)
    if rule is None or rule.mode == "none":
        return None
    if rule.mode == "field":
        value = (values.get(rule.field) or "").strip().lower()
        uid = rule.mapping.get(value)
        if uid and _available(team_id, uid):
            return uid
        if rule.pool:
            uid = assign_round_robin(team_id, rule.pool)
            if uid:
                return uid
        if rule.fallback_id and members.is_member(team_id, rule.fallback_id):
            return rule.fallback_id
        return None
    return assign_round_robin(team_id, rule.pool) or rule.fallback_id


def _available(team_id: int, user_id: int) -> bool:
    return (
        db.session.scalar(
            select(Membership.id).where(
                Membership.team_id == team_id,
                Membership.user_id == user_id,
                Membership.away.is_(False),
            )
        )
        is not None
    )


def set_away(team_id: int, user_id: int, away: bool) -> None:
    db.session.execute(
        update(Membership)
        .where(Membership.team_id == team_id, Membership.user_id == user_id)
        .values(away=bool(away))
    )
    db.session.commit()


# --- submissions --------------------------------------------------------------------------------


def _signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt="lead-form-stamp")


def stamp(form: LeadForm, at: float | None = None) -> str:
    """The signed "form shown at" time the hosted page and the snippet's script post back."""
    return _signer().sign(f"{form.token}.{int(at if at is not None else time.time())}").decode()


def _spam_reason(form: LeadForm, data: dict) -> str | None:
    if str(data.get(HONEYPOT) or "").strip():
        return "The hidden honeypot field was filled in."
    raw = str(data.get(STAMP) or "")
    if not raw:
        return "No fill-time stamp (posted without the form's page or script)."
    try:
        token, _, shown = _signer().unsign(raw).decode().rpartition(".")
        shown_at = int(shown)
    except (BadSignature, ValueError):
        return "The fill-time stamp is forged or damaged."
    if token != form.token:
        return "The fill-time stamp belongs to another form."
    elapsed = time.time() - shown_at
    minimum = current_app.config.get("LEADS_MIN_FILL_SECONDS", 3)
    if elapsed < minimum:
        return f"Sent {max(elapsed, 0):.0f} s after the form was shown (people take {minimum} s)."
    return None


def clean_values(form: LeadForm, data: dict) -> dict:
    """The form's own fields and the tracking values, checked; Invalid names the field."""
    values: dict[str, str] = {}
    for key in form.fields:
        raw = data.get(key)
        if isinstance(raw, list | dict):
            raise Invalid("Send plain text here.", field=key)
        if key == "message":
            value = clean_text(raw, MESSAGE_MAX, key)
        elif key == "name":
            value = clean_text(raw, 201, key)
        elif key == "company":
            value = clean_text(raw, CONTACT_LIMITS["company_name"], key)
        else:
            value = clean_text(raw, CONTACT_LIMITS[key], key)
        if key == "email" and value:
            try:
                value = norm.email(value)
            except norm.BadValue as error:
                raise Invalid(str(error), field=key) from None
        if key == "phone" and value:
            try:
                norm.phone(value, phone_region())
            except norm.BadValue as error:
                raise Invalid(str(error), field=key) from None
        if value:
            values[key] = value
        elif key in form.required:
            raise Invalid("Please fill this in.", field=key)
    if not ({"email", "name", "first_name", "last_name", "phone"} & values.keys()):
        first = next((f for f in form.fields if f in ("email", "name", "first_name")), None)
        raise Invalid("Tell us your name or email address.", field=first)
    for key in TRACKING:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            values[key] = value.strip()[:100]
    for key, value in (form.hidden or {}).items():
        values.setdefault(key, value)
    return values


def receive(form: LeadForm, data: dict, remote_addr: str | None = None) -> LeadSubmission:
    """Take one posted form: bad input raises Invalid (nothing kept); suspected spam is kept in
    the Spam list with its reason; anything else is processed at once. Commits."""
    values = clean_values(form, data)
    raw = {
        str(k)[:60]: (v if isinstance(v, str) else str(v))[:RAW_VALUE_MAX]
        for k, v in list(data.items())[:60]
        if k != STAMP
    }
    reason = _spam_reason(form, data)
    if reason:
        spam = _submission(form, raw, remote_addr, reason)
        db.session.add(spam)
        db.session.commit()
        return spam
    for attempt in range(LOCKED_RETRIES + 1):
        submission = _submission(form, raw, remote_addr, None)
        db.session.add(submission)
        try:
            done = _process(form, submission, values)
        except IntegrityError:
            # The same new email arrived twice at once: the other request made the contact, so
            # the next attempt updates it (never a duplicate).
            db.session.rollback()
            if attempt == LOCKED_RETRIES:
                raise
        except OperationalError as error:
            # SQLite hands its one write lock out unfairly under a burst: try again rather than
            # answer 500 (PostgreSQL waits on row locks instead and never gets here).
            db.session.rollback()
            if "locked" not in str(error) or attempt == LOCKED_RETRIES:
                raise
        else:
            _follow_up(form, *done)
            return submission
    raise RuntimeError("unreachable")  # pragma: no cover


def _submission(form: LeadForm, raw: dict, remote_addr: str | None, reason: str | None):
    return LeadSubmission(
        team_id=form.team_id,
        form_id=form.id,
        status=SubmissionStatus.SPAM if reason else SubmissionStatus.PROCESSED,
        reason=reason,
        raw=raw,
        remote_addr=(remote_addr or "")[:64] or None,
    )


def release(submission: LeadSubmission, actor_id: int | None) -> LeadSubmission:
    """An admin says a Spam entry is a real person: process it as it was sent. Commits."""
    if submission.status != SubmissionStatus.SPAM:
        raise Invalid("Only submissions in the Spam list can be released.")
    form = submission.form
    try:
        values = clean_values(form, submission.raw or {})
    except Invalid as error:
        raise Invalid(f"This submission cannot become a lead: {error.message}") from None
    submission.status = SubmissionStatus.RELEASED
    _follow_up(form, *_process(form, submission, values))
    return submission


def _process(form: LeadForm, submission: LeadSubmission, values: dict) -> None:
    team_id = form.team_id
    now = utcnow()
    first, last = values.get("first_name"), values.get("last_name")
    if values.get("name") and not (first or last):
        first, _, last = values["name"].partition(" ")
    contact = None
    if values.get("email"):
        contact = db.session.scalars(
            select(Contact)
            .join(ContactEmail, ContactEmail.contact_id == Contact.id)
            .where(ContactEmail.team_id == team_id, ContactEmail.email == values["email"])
        ).first()
    fields = {k: values[k] for k in CONTACT_FIELDS if values.get(k)}
    source = values.get("source") or values.get("utm_source") or form.name
    if contact is None:
        data = {
            **fields,
            "first_name": first or "",
            "last_name": last or "",
            "emails": [values["email"]] if values.get("email") else [],
            "phones": [values["phone"]] if values.get("phone") else [],
            "source": source[:100],
            "owner_id": None,
            "tags": [form.tag] if form.tag else [],
        }
        company = companies.find_or_create(team_id, None, values.get("company"))
        if company is not None:
            data["company_id"] = company.id
        contact = contacts.create_contact(team_id, None, data, commit=False)
    else:
        if contact.untrash():
            # The person wrote again: their contact comes back out of the trash (audited).
            audit.write(
                team_id=team_id,
                actor_id=None,
                entity_type="contact",
                entity_id=contact.id,
                action="restore",
                timeline=True,
                contact_ids=[contact.id],
            )
        # Fill blanks only: a visitor never overwrites what the team already knows.
        data = {k: v for k, v in fields.items() if not getattr(contact, k)}
        if first and not contact.first_name and not contact.last_name:
            data.update(first_name=first, last_name=last or "")
        if values.get("phone"):
            data["phones"] = [p.e164 for p in contact.phones] + [values["phone"]]
        if form.tag:
            data["tags"] = [t.name for t in contact.tags] + [form.tag]
        if values.get("company") and contact.company_id is None:
            company = companies.find_or_create(team_id, None, values["company"])
            data["company_id"] = company.id if company else None
        if data:
            contacts.update_contact(contact, None, data, commit=False)
    submission.contact_id = contact.id

    lead = db.session.scalars(
        select(Lead).where(Lead.team_id == team_id, Lead.contact_id == contact.id)
    ).first()
    new_lead = lead is None
    tracking = {k: values[k] for k in TRACKING if values.get(k)}
    subject = f"Web form “{form.name}” · source: {source}"
    timeline.record(
        team_id=team_id,
        kind=ActivityKind.NOTE,
        contact_ids=[contact.id],
        subject=subject[:300],
        body=values.get("message"),
        occurred_at=now,
        data={"form_id": form.id, "form": form.name, "submission_id": submission.id, **tracking},
    )
    assignee_id = None
    if new_lead:
        lead = Lead(
            team_id=team_id,
            contact_id=contact.id,
            status=LeadStatus.NEW,
            source=source[:100],
            form_id=form.id,
            arrived_at=now,
        )
        db.session.add(lead)
        if contact.owner_id is None:
            # Last, so the rotation row is locked only for the end of this transaction.
            assignee_id = choose_assignee(team_id, form.id, values)
            lead.assignee_id = contact.owner_id = assignee_id
        else:
            lead.assignee_id = contact.owner_id
    notice = _notify(lead, contact, form) if assignee_id else None
    db.session.commit()
    return lead, contact, new_lead, notice, now


def _follow_up(form: LeadForm, lead: Lead, contact: Contact, new_lead: bool, notice, now):
    """After the lead is saved: tell the assignee, then the form's deal and task (each of
    those services commits on its own)."""
    team_id = form.team_id
    if notice is not None:
        outbox.enqueue(notice)
    if new_lead and form.stage_id:
        stage = db.session.get(Stage, form.stage_id)
        if stage is not None and stage.team_id == team_id:
            deal = deals.create_deal(
                team_id=team_id,
                title=f"{contact.name} ({form.name})",
                stage=stage,
                currency=_currency(team_id),
                owner_id=lead.assignee_id,
                company_id=contact.company_id,
                contact_ids=[contact.id],
            )
            lead.deal_id = deal.id
            db.session.commit()
    if new_lead and form.create_task and lead.assignee_id:
        tasks.create_task(
            team_id,
            None,
            title=f"Follow up with {contact.name} (web form)",
            due_at=now.date(),
            assignee_id=lead.assignee_id,
            contact_id=contact.id,
        )


def _currency(team_id: int) -> str:
    from crm.models import Team

    return db.session.get(Team, team_id).currency


def _notify(lead: Lead, contact: Contact, form: LeadForm | None):
    user = db.session.get(User, lead.assignee_id)
    if user is None:
        return None
    from flask import url_for

    return outbox.queue_email(
        to=user.email,
        subject=f"New lead for you: {contact.name}",
        template="lead_assigned",
        kind="lead_assigned",
        team_id=lead.team_id,
        user=user,
        contact=contact,
        lead=lead,
        form_name=form.name if form else None,
        url=current_app.config["BASE_URL"].rstrip("/")
        + url_for("contacts.show", contact_id=contact.id),
    )


# --- leads --------------------------------------------------------------------------------------


def set_status(
    lead: Lead, status, *, actor_id: int | None = None, reason: str | None = None
) -> Lead:
    """Move a lead to another status (a disqualified lead needs a reason); commits.

    Converting goes through convert(), which also creates the deal.
    """
    try:
        status = LeadStatus(status)
    except ValueError:
        raise Invalid("Choose a status from the list.", field="status") from None
    reason = clean_text(reason, 200, "reason")
    if status == LeadStatus.DISQUALIFIED and not reason:
        raise Invalid("Say why the lead is disqualified.", field="reason")
    if status == LeadStatus.CONVERTED and lead.deal_id is None:
        raise Invalid("Convert the lead to create its deal.", field="status")
    old = lead.status
    lead.status = status
    lead.reason = reason if status == LeadStatus.DISQUALIFIED else None
    if old != status:
        timeline.record(
            team_id=lead.team_id,
            kind=ActivityKind.SYSTEM,
            author_id=actor_id,
            contact_ids=[lead.contact_id],
            subject=f"Lead status: {old.label} → {status.label}"
            + (f" ({lead.reason})" if lead.reason else ""),
            data={"lead_id": lead.id, "from": old.value, "to": status.value},
        )
    db.session.commit()
    return lead


def convert(lead: Lead, *, actor_id: int | None, title: str | None = None, stage_id=None):
    """Make the lead's deal in one step (the default pipeline's first stage unless a stage is
    given) and mark the lead converted; returns the deal."""
    if lead.status == LeadStatus.CONVERTED and lead.deal_id:
        raise Invalid("This lead is converted already.")
    team_id = lead.team_id
    if stage_id:
        stage = db.session.scalars(
            select(Stage).where(Stage.team_id == team_id, Stage.id == parse_id(stage_id))
        ).first()
    else:
        pipeline = db.session.scalars(
            select(Pipeline)
            .where(Pipeline.team_id == team_id)
            .order_by(Pipeline.is_default.desc(), Pipeline.id)
        ).first()
        stage = pipeline.stages[0] if pipeline and pipeline.stages else None
    if stage is None:
        raise Invalid("Create a pipeline first: the deal needs a stage.", field="stage_id")
    contact = lead.contact
    deal = deals.create_deal(
        team_id=team_id,
        title=(title or "").strip() or contact.name,
        stage=stage,
        currency=_currency(team_id),
        owner_id=lead.assignee_id or actor_id,
        company_id=contact.company_id,
        contact_ids=[contact.id],
        actor_id=actor_id,
    )
    lead.deal_id = deal.id
    set_status(lead, LeadStatus.CONVERTED, actor_id=actor_id)
    return deal


def speed_seconds(first_at: datetime | None, arrived_at: datetime) -> float | None:
    if first_at is None:
        return None
    return max((first_at - arrived_at).total_seconds(), 0.0)
