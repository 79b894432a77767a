"""`flask crm seed`: realistic synthetic data at any scale, fast and deterministic.

Rows are generated from built-in word lists with one random.Random(seed) and written with
bulk INSERTs in batches (ids assigned here, so nothing is read back). Names, emails, phones,
companies and texts depend only on --seed; timestamps are relative to today (UTC midnight),
so "no activity for N days" stays meaningful whenever the data is made.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import click
from sqlalchemy import JSON, Boolean, Date, func, insert, select, text

from crm.extensions import db
from crm.models import (
    Activity,
    ActivityContact,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    DealStatus,
    Lifecycle,
    Membership,
    Pipeline,
    Role,
    Stage,
    Tag,
    Task,
    Team,
    User,
    UTCDateTime,
    company_tag,
    contact_tag,
    deal_contact,
)

BATCH = 5000


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words(
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa "
    "Anthony Betty Mark Sandra Donald Ashley Steven Emily Paul Donna Andrew Michelle Joshua "
    "Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca Jason "
    "Laura Edward Sharon Jeffrey Cynthia Ryan Kathleen Jacob Amy Gary Angela Nicholas "
    "Shirley Eric Anna Jonathan Brenda Stephen Pamela Larry Emma Justin Nicole Scott Helen "
    "Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel "
    "Frank Carolyn Patrick Janet Raymond Catherine Jack Maria Dennis Heather Jerry Diane "
    "Tyler Ruth Aaron Julie José Zoë Renée François Søren Agnieszka Hiroshi Mei Priya Arjun "
    "Olga Chiara Mateo Lucía Aisha Kwame Fatima Lars Ingrid Mohammed Yuki Wei Camille Björn "
    "Dmitri Ana Sven Leila Omar "
)
LAST = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
    "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Müller "
    "Schmidt Dubois Rossi Kowalski Novak Tanaka Suzuki Chen Wang Singh Kumar Larsen "
    "Johansson Ivanova Okafor Mensah Haddad Costa "
)
COMPANY_A = _words(
    "North Blue Bright Silver Green Iron Summit Harbor Pioneer Vertex Apex Cedar Oak Maple "
    "Granite Crystal Golden Rapid Clear Quantum Nimbus Atlas Orion Sierra Delta Coastal "
    "Prairie Evergreen Redwood Falcon Lighthouse Beacon Cobalt Copper Horizon Keystone "
    "Meridian Nova "
)
COMPANY_B = _words(
    "Logistics Analytics Foods Health Robotics Software Systems Labs Capital Partners Energy "
    "Media Design Freight Bakery Studios Consulting Dynamics Networks Textiles Pharma "
    "Outdoor Education Insurance Builders Motors Marine Hospitality Security Audio Solar "
    "Water Farms "
)
SUFFIX = ("Inc.", "LLC", "Ltd", "GmbH", "Group", "Co.", "", "", "")
INDUSTRIES = (
    "Software",
    "Manufacturing",
    "Retail",
    "Healthcare",
    "Finance",
    "Logistics",
    "Education",
    "Hospitality",
    "Energy",
    "Media",
    "Construction",
    "Agriculture",
)
SIZES = ("1-10", "11-50", "51-200", "201-500", "501-1000", "1000+")
CITIES = (
    ("Austin", "TX", "US"),
    ("Denver", "CO", "US"),
    ("Boston", "MA", "US"),
    ("Seattle", "WA", "US"),
    ("Chicago", "IL", "US"),
    ("Toronto", "ON", "CA"),
    ("London", "", "GB"),
    ("Berlin", "", "DE"),
    ("Paris", "", "FR"),
    ("Madrid", "", "ES"),
    ("Amsterdam", "", "NL"),
    ("Stockholm", "", "SE"),
    ("Sydney", "NSW", "AU"),
)
STREETS = ("Main St", "Oak Ave", "Market St", "High St", "Park Rd", "Mill Ln", "River Rd")
TITLES = (
    "CEO",
    "CTO",
    "CFO",
    "VP Sales",
    "Head of Marketing",
    "Operations Manager",
    "Buyer",
    "Procurement Lead",
    "Office Manager",
    "Engineer",
    "Product Manager",
    "Founder",
    "Director",
)
TAGS = (
    "vip",
    "newsletter",
    "partner",
    "reseller",
    "trade-show",
    "webinar",
    "referral",
    "churn-risk",
    "enterprise",
    "smb",
    "renewal",
    "beta",
    "decision-maker",
    "influencer",
    "europe",
    "americas",
)
SOURCES = ("website", "referral", "trade show", "cold call", "webinar", "import", "linkedin")
TOPICS = (
    "pricing",
    "the renewal",
    "onboarding",
    "the pilot",
    "integration with their ERP",
    "next quarter's order",
    "the support ticket",
    "a volume discount",
    "the contract terms",
    "their expansion to Europe",
    "training for the new team",
    "the invoice",
)
NOTE_FORMS = (
    "Talked about {t}. They want a follow-up next week.",
    "Sent a summary about {t}; waiting for their reply.",
    "{n} asked about {t}. Looped in the product team.",
    "Quick check-in on {t}. All good for now.",
    "Left a voicemail about {t}.",
    "Meeting went well; {t} is their priority this quarter.",
)
OUTCOMES = ("connected", "voicemail", "no answer", "busy")
TASK_FORMS = ("Call {n} about {t}", "Send proposal for {t}", "Follow up on {t}", "Email {n}")
DEAL_FORMS = ("{c} – {t}", "{c} renewal", "{c} expansion", "{c} pilot")
LIFECYCLE_WEIGHTS = (
    (Lifecycle.LEAD, 40),
    (Lifecycle.PROSPECT, 25),
    (Lifecycle.CUSTOMER, 25),
    (Lifecycle.FORMER, 5),
    (Lifecycle.OTHER, 5),
)


def _ascii(text: str) -> str:
    table = str.maketrans("éëèçøöüäåóíáñšłżß", "eeecoouaaoiansizs")
    return "".join(ch for ch in text.lower().translate(table) if ch.isalnum())


def _batches(rows: Iterator[dict], size: int = BATCH) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _converter(column_type):
    """How a value goes to sqlite3 as SQLAlchemy would have stored it."""
    if isinstance(column_type, UTCDateTime):
        return lambda v: v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if v else None
    if isinstance(column_type, JSON):
        return lambda v: json.dumps(v) if v is not None else None
    if isinstance(column_type, Date):
        return lambda v: v.isoformat() if v else None
    if isinstance(column_type, Boolean):
        return lambda v: None if v is None else int(v)
    return None


def _insert(target, batch: list[dict]) -> None:
    """A bulk INSERT. On SQLite, straight to the driver: SQLAlchemy's per-row parameter
    processing is most of the cost of a million rows, and these rows are already clean."""
    if not batch:
        return
    table = getattr(target, "__table__", target)
    if db.engine.dialect.name != "sqlite":
        db.session.execute(insert(table), batch)
        return
    columns = list(batch[0])
    convert = [(c, _converter(table.c[c].type)) for c in columns]
    sql = (
        f'INSERT INTO "{table.name}" ({", ".join(columns)}) '
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    values = [tuple(f(row[c]) if f else row[c] for c, f in convert) for row in batch]
    db.session.connection().exec_driver_sql(sql, values)


def _write(target, rows: Iterator[dict], progress: Callable[[str, int], None], label: str) -> int:
    total = 0
    for batch in _batches(rows):
        _insert(target, batch)
        db.session.commit()
        total += len(batch)
        progress(label, total)
    return total


def ensure_team(team_name: str, password: str, members: int = 5) -> tuple[Team, list[User]]:
    """The team called `team_name` (created with an owner and members if missing)."""
    from crm.auth import services as accounts

    team = db.session.scalar(select(Team).where(Team.name == team_name))
    if team is None:
        slug = _ascii(team_name) or "demo"
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
    company_start = _next_id(Company)
    company_rows: list[tuple[int, str]] = []

    def gen_companies():
        for i in range(companies):
            cid = company_start + i
            name = f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)} {rng.choice(SUFFIX)}".strip()
            if i >= len(COMPANY_A) * len(COMPANY_B):
                name = f"{name} {i}"
            domain = f"{_ascii(name)[:40]}{i}.example"
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

    counts["companies"] = _write(Company, gen_companies(), progress, "companies")
    counts["company_tags"] = _write(
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
    contact_start = _next_id(Contact)
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

    counts["contacts"] = _write(Contact.__table__, gen_contacts(), progress, "contacts")

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
                "email": f"{_ascii(first)}.{_ascii(last)}.{contact_start + i}@{domain}",
                "position": 0,
            }

    counts["emails"] = _write(ContactEmail, gen_emails(), progress, "emails")

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

    counts["phones"] = _write(ContactPhone, gen_phones(), progress, "phones")
    counts["contact_tags"] = _write(
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
        activity_start = _next_id(Activity)
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
        for batch in _batches(gen_activities()):
            _insert(Activity, batch)
            _insert(ActivityContact, links)
            db.session.commit()
            links.clear()
            total += len(batch)
            progress("activities", total)
        counts["activities"] = total

    # Deals (in the team's default pipeline) and tasks
    if deals:
        first_deal = _next_id(Deal)
        counts["deals"] = _seed_deals(
            team, rng, deals, user_ids, contact_start, contacts, contact_company, today, progress
        )
        from crm.deals.history_seed import seed_stage_history  # reports (issue 13)

        counts["stage changes"] = seed_stage_history(
            team_id,
            first_deal,
            write=_write,
            batches=_batches,
            seed_value=seed_value,
            progress=progress,
        )
    if tasks:
        task_start = _next_id(Task)

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

        counts["tasks"] = _write(Task.__table__, gen_tasks(), progress, "tasks")
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
    deal_start = _next_id(Deal)
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
    for batch in _batches(gen()):
        _insert(Deal, batch)
        if links:
            _insert(deal_contact, links)
            links.clear()
        db.session.commit()
        total += len(batch)
        progress("deals", total)
    return total


def add_timeline(team_id: int, contact_id: int, entries: int, author_id: int | None = None) -> None:
    """Give one contact a long timeline (the benchmark's 2,000-entry contact page)."""
    rng = random.Random(contact_id)
    start = _next_id(Activity)
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
        _insert(Activity, rows[i : i + BATCH])
        _insert(ActivityContact, links[i : i + BATCH])
    db.session.get(Contact, contact_id).last_activity_at = rows[0]["occurred_at"] if rows else None
    db.session.commit()


def register(group) -> None:
    @group.command("seed")
    @click.option("--team-name", default="Demo Co", show_default=True)
    @click.option("--contacts", type=int, default=1000, show_default=True)
    @click.option("--companies", type=int, default=200, show_default=True)
    @click.option("--activities", type=int, default=5000, show_default=True)
    @click.option("--deals", type=int, default=300, show_default=True)
    @click.option("--tasks", type=int, default=300, show_default=True)
    @click.option("--seed", "seed_value", type=int, default=1, show_default=True)
    @click.option(
        "--password",
        default="demo password 123",
        show_default=True,
        help="Password of the users created with a new team.",
    )
    def seed_command(
        team_name, contacts, companies, activities, deals, tasks, seed_value, password
    ):
        """Generate synthetic contacts, companies, timeline, deals and tasks for a team."""
        started = time.perf_counter()
        team, users = ensure_team(team_name, password)
        last = {"label": None}

        def progress(label: str, n: int) -> None:
            if label != last["label"]:
                if last["label"]:
                    click.echo("")
                last["label"] = label
            click.echo(f"\r  {label}: {n:,}", nl=False)

        counts = seed(
            team,
            users,
            contacts=contacts,
            companies=companies,
            activities=activities,
            deals=deals,
            tasks=tasks,
            seed_value=seed_value,
            progress=progress,
        )
        click.echo("")
        summary = ", ".join(f"{v:,} {k}" for k, v in counts.items() if v)
        click.echo(
            f"Seeded team {team.name!r} (id {team.id}): {summary} "
            f"in {time.perf_counter() - started:.1f} s."
        )
        click.echo(f"Log in as {users[0].email}" if users else "")
