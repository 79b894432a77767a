"""Realistic synthetic data at any scale, fast and deterministic.

Rows are generated from built-in word lists with one random.Random(seed) and written with
bulk INSERTs in batches (ids assigned here, so nothing is read back). Names, emails, phones,
companies and texts depend only on --seed; timestamps are relative to today (UTC midnight),
so "no activity for N days" stays meaningful whenever the data is made.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from crm.extensions import db
from crm.kernel import statistics
from crm.models import (
    Activity,
    ActivityContact,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    DealStatus,
    Membership,
    Pipeline,
    Role,
    Stage,
    Tag,
    Task,
    Team,
    User,
    company_tag,
    contact_tag,
    deal_contact,
)
from crm.seed.bulk import BATCH, batches, insert_rows, next_id, write_rows
from crm.seed.words import (
    CITIES,
    COMPANY_A,
    COMPANY_B,
    DEAL_FORMS,
    FIRST,
    INDUSTRIES,
    LAST,
    LIFECYCLE_WEIGHTS,
    NOTE_FORMS,
    OUTCOMES,
    SIZES,
    SOURCES,
    STREETS,
    SUFFIX,
    TAGS,
    TASK_FORMS,
    TITLES,
    TOPICS,
    ascii_slug,
)


def ensure_team(team_name: str, password: str, members: int = 5) -> tuple[Team, list[User]]:
    """The team called `team_name` (created with an owner and members if missing)."""
    from crm.auth import services as accounts

    team = db.session.scalar(select(Team).where(Team.name == team_name))
    if team is None:
        slug = ascii_slug(team_name) or "demo"
        owner = accounts.user_by_email(f"owner@{slug}.example") or accounts.signup(
            name="Demo Owner",
            email=f"owner@{slug}.example",
            password=password,
            team_name=team_name,
        )
        team = db.session.get(Team, owner.last_team_id)
        for i in range(members - 1):
            user = User(
                name=f"{FIRST[i * 7 % len(FIRST)]} {LAST[i * 5 % len(LAST)]}",
                email=f"member{i + 1}@{slug}.example",
                last_team_id=team.id,
            )
            user.set_password(password)
            db.session.add(user)
            db.session.add(Membership(team=team, user=user, role=Role.MEMBER))
        db.session.commit()
    users = list(
        db.session.scalars(
            select(User).join(Membership).where(Membership.team_id == team.id).order_by(User.id)
        )
    )
    return team, users


def seed(
    team: Team,
    users: list[User],
    *,
    contacts: int = 0,
    companies: int = 0,
    activities: int = 0,
    deals: int = 0,
    tasks: int = 0,
    seed_value: int = 1,
    progress: Callable[[str, int], None] = lambda label, n: None,
) -> dict[str, int]:
    """Add synthetic rows to `team`; returns the count written per kind."""
    rng = random.Random(seed_value)
    if db.engine.url.get_backend_name() == "sqlite":
        # A bulk load: if the machine dies halfway, seed again; no need to sync every batch.
        db.session.execute(text("PRAGMA synchronous=OFF"))
    team_id, user_ids = team.id, [u.id for u in users] or [None]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    counts: dict[str, int] = {}

    # Tags
    existing = dict(
        db.session.execute(select(Tag.name, Tag.id).where(Tag.team_id == team_id)).all()
    )
    for name in TAGS:
        if name not in existing:
            tag = Tag(team_id=team_id, name=name)
            db.session.add(tag)
            db.session.flush()
            existing[name] = tag.id
    db.session.commit()
    tag_ids = [existing[n] for n in TAGS]

    # Companies
    company_start = next_id(Company)
    company_rows: list[tuple[int, str]] = []

    def gen_companies():
        for i in range(companies):
            cid = company_start + i
            name = f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)} {rng.choice(SUFFIX)}".strip()
            if i >= len(COMPANY_A) * len(COMPANY_B):
                name = f"{name} {i}"
            domain = f"{ascii_slug(name)[:40]}{i}.example"
            company_rows.append((cid, domain))
            city, region, country = rng.choice(CITIES)
            created = today - timedelta(days=rng.randint(30, 1500), minutes=rng.randint(0, 1439))
            yield {
                "id": cid,
                "team_id": team_id,
                "name": name,
                "sort_name": name.lower(),
                "domain": domain,
                "industry": rng.choice(INDUSTRIES),
                "size": rng.choice(SIZES),
                "phone": f"+1{rng.randint(200, 989)}555{rng.randint(1000, 9999)}",
                "website": f"https://{domain}",
                "owner_id": rng.choice(user_ids),
                "city": city,
                "region": region or None,
                "country": country,
                "street": f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
                "created_at": created,
                "updated_at": created,
            }

    counts["companies"] = write_rows(Company, gen_companies(), progress, "companies")
    counts["company_tags"] = write_rows(
        company_tag,
        (
            {"company_id": cid, "tag_id": t}
            for cid, _ in company_rows
            for t in rng.sample(tag_ids, rng.choice((0, 0, 1, 2)))
        ),
        progress,
        "company tags",
    )
    if not company_rows:
        company_rows = [
            (cid, dom or "example.com")
            for cid, dom in db.session.execute(
                select(Company.id, Company.domain).where(Company.team_id == team_id).limit(5000)
            )
        ]

    # Contacts, their emails, phones and tags. Each activity's time is drawn first, so each
    # contact's last_activity_at is known when the contact is written.
    contact_start = next_id(Contact)
    activity_rng_seed = rng.randrange(2**31)
    last_activity: dict[int, datetime] = {}
    if contacts and activities:
        arng = random.Random(activity_rng_seed)
        for _ in range(activities):
            index, when = _activity_draw(arng, contacts, today)
            if index not in last_activity or when > last_activity[index]:
                last_activity[index] = when
    stages = [s.value for s, w in LIFECYCLE_WEIGHTS for _ in range(w)]
    contact_company: list[int | None] = []
    contact_names: list[str] = []

    def gen_contacts():
        for i in range(contacts):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company = rng.choice(company_rows) if company_rows and rng.random() < 0.8 else None
            contact_company.append(company[0] if company else None)
            contact_names.append(f"{first} {last}")
            city, region, country = rng.choice(CITIES)
            created = today - timedelta(days=rng.randint(0, 1400), minutes=rng.randint(0, 1439))
            yield {
                "id": contact_start + i,
                "team_id": team_id,
                "first_name": first,
                "last_name": last,
                "sort_name": f"{first} {last}".lower(),
                "title": rng.choice(TITLES) if rng.random() < 0.7 else None,
                "company_id": company[0] if company else None,
                "social": {},
                "owner_id": rng.choice(user_ids),
                "lifecycle": rng.choice(stages),
                "source": rng.choice(SOURCES),
                "city": city,
                "region": region or None,
                "country": country,
                "notes": None,
                "last_activity_at": last_activity.get(i),
                "created_at": created,
                "updated_at": created,
            }

    counts["contacts"] = write_rows(Contact.__table__, gen_contacts(), progress, "contacts")

    def gen_emails():
        for i in range(contacts):
            first, last = contact_names[i].split(" ", 1)
            company = contact_company[i]
            domain = (
                dict(company_rows).get(company)
                if company
                else rng.choice(("mail.example", "post.example"))
            )
            yield {
                "team_id": team_id,
                "contact_id": contact_start + i,
                "label": "work",
                "email": f"{ascii_slug(first)}.{ascii_slug(last)}.{contact_start + i}@{domain}",
                "position": 0,
            }

    counts["emails"] = write_rows(ContactEmail, gen_emails(), progress, "emails")

    def gen_phones():
        for i in range(contacts):
            if rng.random() < 0.7:
                yield {
                    "team_id": team_id,
                    "contact_id": contact_start + i,
                    "position": 0,
                    "e164": f"+1{rng.randint(200, 989)}{rng.randint(2000000, 9999999)}",
                    "label": rng.choice(("mobile", "work")),
                }

    counts["phones"] = write_rows(ContactPhone, gen_phones(), progress, "phones")
    counts["contact_tags"] = write_rows(
        contact_tag,
        (
            {"contact_id": contact_start + i, "tag_id": t}
            for i in range(contacts)
            for t in rng.sample(tag_ids, rng.choice((0, 0, 1, 1, 2, 3)))
        ),
        progress,
        "contact tags",
    )

    # Activities: the same draws as above (same seed), each linked to one contact.
    if contacts and activities:
        draws = random.Random(activity_rng_seed)  # the same sequence as the first pass
        arng = random.Random(activity_rng_seed + 1)  # everything else about each activity
        activity_start = next_id(Activity)
        links: list[dict] = []

        def gen_activities():
            for n in range(activities):
                index, when = _activity_draw(draws, contacts, today)
                kind = arng.choice(("note", "note", "call", "call", "meeting", "email"))
                text = arng.choice(NOTE_FORMS).format(
                    t=arng.choice(TOPICS), n=contact_names[index].split(" ")[0]
                )
                links.append(
                    {
                        "activity_id": activity_start + n,
                        "contact_id": contact_start + index,
                        "occurred_at": when,
                    }
                )
                yield {
                    "id": activity_start + n,
                    "team_id": team_id,
                    "kind": kind,
                    "occurred_at": when,
                    "author_id": arng.choice(user_ids),
                    "subject": f"Re: {arng.choice(TOPICS)}" if kind == "email" else None,
                    "body": text,
                    "pinned": False,
                    "outcome": arng.choice(OUTCOMES) if kind == "call" else None,
                    "duration_minutes": arng.randint(1, 45) if kind == "call" else None,
                    "company_id": contact_company[index],
                    "data": {},
                    "created_at": when,
                    "updated_at": when,
                }

        total = 0
        for batch in batches(gen_activities()):
            insert_rows(Activity, batch)
            insert_rows(ActivityContact, links)
            db.session.commit()
            links.clear()
            total += len(batch)
            progress("activities", total)
        counts["activities"] = total

    # Deals (in the team's default pipeline) and tasks
    if deals:
        first_deal = next_id(Deal)
        counts["deals"] = _seed_deals(
            team, rng, deals, user_ids, contact_start, contacts, contact_company, today, progress
        )
        from crm.seed.history import seed_stage_history

        counts["stage changes"] = seed_stage_history(
            team_id, first_deal, seed_value=seed_value, progress=progress
        )
    if tasks:
        task_start = next_id(Task)

        def gen_tasks():
            for n in range(tasks):
                index = rng.randrange(contacts) if contacts else None
                name = contact_names[index].split(" ")[0] if index is not None else "them"
                due = today + timedelta(days=rng.randint(-30, 60), hours=9)
                done = rng.random() < 0.4
                yield {
                    "id": task_start + n,
                    "team_id": team_id,
                    "title": rng.choice(TASK_FORMS).format(n=name, t=rng.choice(TOPICS)),
                    "due_at": due,
                    "all_day": True,
                    "priority": rng.choice(("low", "normal", "high")),
                    "assignee_id": rng.choice(user_ids),
                    "created_by_id": rng.choice(user_ids),
                    "contact_id": contact_start + index if index is not None else None,
                    "done_at": due if done else None,
                    "created_at": due - timedelta(days=7),
                    "updated_at": due - timedelta(days=7),
                }

        counts["tasks"] = write_rows(Task.__table__, gen_tasks(), progress, "tasks")
    # Fresh planner statistics, or the first queries over the new rows (the search rebuild's
    # among them) guess their plans and can walk whole tables.
    statistics.analyze()
    return counts


def _activity_draw(rng: random.Random, contacts: int, today: datetime) -> tuple[int, datetime]:
    # Skewed: one in twenty activities goes to the first 200 contacts (key accounts with long
    # timelines), the rest are spread evenly.
    hot = min(200, contacts)
    index = rng.randrange(hot) if rng.random() < 0.05 else rng.randrange(contacts)
    when = today - timedelta(days=rng.random() * 730)
    return index, when.replace(microsecond=0)


def _seed_deals(
    team, rng, deals, user_ids, contact_start, contacts, contact_company, today, progress
) -> int:
    pipeline = db.session.scalar(
        select(Pipeline).where(Pipeline.team_id == team.id).order_by(Pipeline.is_default.desc())
    )
    if pipeline is None:
        pipeline = Pipeline(team_id=team.id, name="Sales", is_default=True)
        pipeline.stages = [
            Stage(team_id=team.id, name=name, position=i, probability=p)
            for i, (name, p) in enumerate(
                (("Lead in", 10), ("Qualified", 30), ("Proposal", 60), ("Negotiation", 80))
            )
        ]
        db.session.add(pipeline)
        db.session.commit()
    stage_ids = [s.id for s in pipeline.stages]
    deal_start = next_id(Deal)
    links: list[dict] = []

    def gen():
        for n in range(deals):
            index = rng.randrange(contacts) if contacts else None
            status = rng.choice((DealStatus.OPEN,) * 6 + (DealStatus.WON, DealStatus.LOST))
            created = today - timedelta(days=rng.randint(0, 400))
            if index is not None:
                links.append({"deal_id": deal_start + n, "contact_id": contact_start + index})
            company = contact_company[index] if index is not None else None
            yield {
                "id": deal_start + n,
                "team_id": team.id,
                "pipeline_id": pipeline.id,
                "title": rng.choice(DEAL_FORMS).format(c=f"Deal {n + 1}", t=rng.choice(TOPICS)),
                "stage_id": rng.choice(stage_ids),
                "value_minor": rng.randint(5, 500) * 10_000,
                "currency": team.currency,
                "owner_id": rng.choice(user_ids),
                "company_id": company,
                "status": status.value,
                "position": n * 1024,
                "expected_close": (today + timedelta(days=rng.randint(-30, 120))).date(),
                "closed_at": created + timedelta(days=30) if status != DealStatus.OPEN else None,
                "stage_entered_at": created,
                "created_at": created,
                "updated_at": created,
            }

    total = 0
    for batch in batches(gen()):
        insert_rows(Deal, batch)
        if links:
            insert_rows(deal_contact, links)
            links.clear()
        db.session.commit()
        total += len(batch)
        progress("deals", total)
    return total


def add_timeline(team_id: int, contact_id: int, entries: int, author_id: int | None = None) -> None:
    """Give one contact a long timeline (the benchmark's 2,000-entry contact page)."""
    rng = random.Random(contact_id)
    start = next_id(Activity)
    today = datetime.now(UTC).replace(microsecond=0)
    rows, links = [], []
    for n in range(entries):
        when = today - timedelta(minutes=37 * n + rng.randint(0, 30))
        rows.append(
            {
                "id": start + n,
                "team_id": team_id,
                "kind": rng.choice(("note", "call")),
                "occurred_at": when,
                "author_id": author_id,
                "pinned": False,
                "data": {},
                "body": rng.choice(NOTE_FORMS).format(t=rng.choice(TOPICS), n="They"),
                "created_at": when,
                "updated_at": when,
            }
        )
        links.append({"activity_id": start + n, "contact_id": contact_id, "occurred_at": when})
    for i in range(0, entries, BATCH):
        insert_rows(Activity, rows[i : i + BATCH])
        insert_rows(ActivityContact, links[i : i + BATCH])
    db.session.get(Contact, contact_id).last_activity_at = rows[0]["occurred_at"] if rows else None
    db.session.commit()
