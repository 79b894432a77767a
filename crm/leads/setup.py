"""Web-to-lead forms and their assignment rules, as admins set them up in settings."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.errors import Invalid
from crm.extensions import db
from crm.kernel import members, tags, urls
from crm.kernel.fields import clean_text
from crm.kernel.ids import parse_id
from crm.leads.fields import ASKABLE
from crm.models import LeadForm, LeadRule, Membership, Stage, User, new_token

RULE_MODES = ("none", "round_robin", "field")


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
