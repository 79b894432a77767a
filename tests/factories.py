"""Test data factories: make_user(), make_team_member(), … (they commit)."""

from __future__ import annotations

import itertools

from crm.auth import services as accounts
from crm.extensions import db
from crm.models import Membership, Role, Team, User

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_user(
    *,
    name: str | None = None,
    email: str | None = None,
    team_name: str | None = None,
    password: str = PASSWORD,
) -> User:
    """A user who owns a new team."""
    n = next(_seq)
    return accounts.signup(
        name=name or f"User {n}",
        email=email or f"user{n}@example.com",
        password=password,
        team_name=team_name or f"Team {n}",
    )


def team_of(user: User) -> Team:
    return db.session.get(Team, user.last_team_id)


def make_member(
    team: Team, *, role: Role = Role.MEMBER, name: str | None = None, email: str | None = None
) -> User:
    """A user who belongs to `team` with `role` (and to no other team)."""
    n = next(_seq)
    user = User(name=name or f"Member {n}", email=email or f"member{n}@example.com")
    user.set_password(PASSWORD)
    user.last_team_id = team.id
    db.session.add(user)
    db.session.add(Membership(team=team, user=user, role=role))
    db.session.commit()
    return user


# --- CRM records (built directly; features' own services are tested in their own tests) ---


def make_company(team: Team, *, name: str | None = None, domain: str | None = None, **fields):
    from crm.models import Company

    n = next(_seq)
    name = name or f"Company {n}"
    company = Company(team_id=team.id, name=name, sort_name=name.lower(), domain=domain, **fields)
    db.session.add(company)
    db.session.commit()
    return company


def make_contact(
    team: Team,
    *,
    first_name: str | None = None,
    last_name: str = "Doe",
    email: str | None = None,
    phone: str | None = None,
    **fields,
):
    from crm.models import Contact, ContactEmail, ContactPhone

    n = next(_seq)
    first_name = first_name or f"Jane{n}"
    contact = Contact(
        team_id=team.id,
        first_name=first_name,
        last_name=last_name,
        sort_name=f"{first_name} {last_name}".strip().lower(),
        **fields,
    )
    if email is not False:
        contact.emails = [ContactEmail(team_id=team.id, email=email or f"jane{n}@client.example")]
    if phone:
        contact.phones = [ContactPhone(team_id=team.id, e164=phone)]
    db.session.add(contact)
    db.session.commit()
    return contact


def make_pipeline(team: Team, *, stages=("Lead in", "Qualified", "Proposal", "Won", "Lost")):
    from crm.models import Pipeline, Stage

    pipeline = Pipeline(team_id=team.id, name="Sales", is_default=True)
    pipeline.stages = [
        Stage(team_id=team.id, name=name, position=i, probability=min(100, 10 + i * 25))
        for i, name in enumerate(stages)
    ]
    db.session.add(pipeline)
    db.session.commit()
    return pipeline


def make_deal(
    team: Team,
    *,
    title: str | None = None,
    value_minor: int = 100_000,
    pipeline=None,
    stage=None,
    contacts=(),
    **fields,
):
    from sqlalchemy import select as _select

    from crm.models import Deal, Pipeline

    pipeline = (
        pipeline
        or db.session.scalars(_select(Pipeline).where(Pipeline.team_id == team.id)).first()
        or make_pipeline(team)
    )
    stage = stage or pipeline.stages[0]
    deal = Deal(
        team_id=team.id,
        title=title or f"Deal {next(_seq)}",
        pipeline_id=pipeline.id,
        stage_id=stage.id,
        value_minor=value_minor,
        currency=team.currency,
        contacts=list(contacts),
        **fields,
    )
    db.session.add(deal)
    db.session.commit()
    return deal


def make_task(team: Team, *, title: str | None = None, **fields):
    from crm.models import Task

    task = Task(team_id=team.id, title=title or f"Task {next(_seq)}", **fields)
    db.session.add(task)
    db.session.commit()
    return task


def make_activity(
    team: Team, *, contacts=(), kind="note", body="Talked about the renewal.", **fields
):
    from crm.kernel.timeline import record
    from crm.models import ActivityKind

    activity = record(
        team_id=team.id,
        kind=ActivityKind(kind),
        contact_ids=[c.id for c in contacts],
        body=body,
        **fields,
    )
    db.session.commit()
    return activity


def make_import(team: Team, user: User | None = None, *, content: str | None = None):
    """An uploaded CSV import, waiting for its column mapping."""
    from crm.imports import services

    raw = (content or "First name,Last name,Email\nAnn,Lee,ann@example.com\n").encode()
    return services.create_import(team.id, user.id if user else None, "people.csv", raw)


def make_merge(team: Team, user: User | None = None):
    """Two contacts merged into one (the second is in the trash)."""
    from crm.dedupe import services

    kept, other = make_contact(team), make_contact(team)
    return services.merge(kept, other, user.id if user else None, {})


def make_email_attachment(team: Team, *, data: bytes = b"%PDF-1.4 test", filename="a.pdf"):
    """A logged email with one stored attachment (bytes on disk); returns the attachment."""
    import hashlib

    from crm.inbound.filing import attachment_path
    from crm.models import EmailAttachment, EmailMessage

    email = EmailMessage(
        team_id=team.id,
        message_id=f"factory-{next(_seq)}@test",
        thread_key="t",
        direction="outgoing",
        subject="Files",
    )
    db.session.add(email)
    db.session.flush()
    sha = hashlib.sha256(data).hexdigest()
    path = attachment_path(team.id, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    row = EmailAttachment(
        team_id=team.id,
        email_message_id=email.id,
        filename=filename,
        content_type="application/pdf",
        size=len(data),
        sha256=sha,
    )
    db.session.add(row)
    db.session.commit()
    return row
