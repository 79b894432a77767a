"""Server-side p50/p95 of the contact pages at scale: `python -m bench` (or `make bench`).

Seeds 100,000 contacts / 1,000,000 activities (by default) into a temporary SQLite database,
gives one contact a 2,000-entry timeline, logs in with Flask's test client and times each page
in-process (no network, no browser: the server's own time). Pages that answer 404 in this build
are reported as "not available", so the same bench runs before and after features land.

    python -m bench                           # seed into a temp folder, time, delete it
    python -m bench --reuse /tmp/rapport-bench  # seed once into that folder, reuse it next time
    python -m bench --contacts 10000 --activities 100000 --runs 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 50.0


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", type=int, default=100_000)
    p.add_argument("--companies", type=int, default=10_000)
    p.add_argument("--activities", type=int, default=1_000_000)
    p.add_argument("--deals", type=int, default=5_000)
    p.add_argument("--tasks", type=int, default=5_000)
    p.add_argument("--timeline", type=int, default=2_000, help="entries on the timeline contact")
    p.add_argument("--runs", type=int, default=40, help="timed requests per page")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--reuse", metavar="DIR", help="keep the database in DIR and reuse it")
    p.add_argument("--team", default="Bench Co", help="team to time in a reused database")
    return p.parse_args(argv)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _bench_team(name: str):
    """The team to time: the one called `name`, else the one with the most contacts."""
    from sqlalchemy import func, select

    from crm.extensions import db
    from crm.models import Contact, Team

    team = db.session.scalar(select(Team).where(Team.name == name))
    if team is not None:
        return team
    team_id = db.session.scalar(
        select(Contact.team_id).group_by(Contact.team_id).order_by(func.count().desc()).limit(1)
    )
    return db.session.get(Team, team_id) if team_id else None


def _team_owner(team_id: int):
    """The team's owner (any member if it has none): the user the pages are timed as."""
    from sqlalchemy import case, select

    from crm.extensions import db
    from crm.models import Membership, Role, User

    return db.session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.team_id == team_id)
        .order_by(case((Membership.role == Role.OWNER, 0), else_=1), User.id)
        .limit(1)
    )


def _next_cursor(client) -> str:
    """The `after` cursor of the second page, read from the first page's sentinel."""
    import re

    html = client.get("/contacts").get_data(as_text=True)
    found = re.search(r"after=([^&\"']+)", html)
    return found.group(1) if found else ""


def main(argv=None) -> int:
    args = _parse(argv)
    folder = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "bench.db"
    seeded = args.reuse and db_path.exists()
    os.environ["CRM_DATA_DIR"] = str(folder)
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from crm import create_app
    from crm.extensions import db
    from crm.models import Activity, ActivityContact, Company, Contact, Tag
    from crm.seed import generate

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
            "CRM_DATA_DIR": str(folder),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
        }
    )
    password = "bench password 123"
    try:
        with app.app_context():
            upgrade()
            if not seeded:
                started = time.perf_counter()
                team, users = generate.ensure_team(args.team, password)
                last = [None]

                def progress(label, n):
                    if label != last[0]:
                        print(f"  seeding {label}…", file=sys.stderr)
                        last[0] = label

                counts = generate.seed(
                    team,
                    users,
                    contacts=args.contacts,
                    companies=args.companies,
                    activities=args.activities,
                    deals=args.deals,
                    tasks=args.tasks,
                    seed_value=args.seed,
                    progress=progress,
                )
                contact_id = db.session.scalar(
                    select(Contact.id).where(Contact.team_id == team.id).order_by(Contact.id.desc())
                )
                generate.add_timeline(team.id, contact_id, args.timeline, users[0].id)
                db.session.execute(db.text("ANALYZE"))
                db.session.commit()
                took = time.perf_counter() - started
                print(
                    f"Seeded {', '.join(f'{v:,} {k}' for k, v in counts.items() if v)} "
                    f"+ a {args.timeline:,}-entry timeline in {took:.0f} s."
                )
            team = _bench_team(args.team)
            if team is None:
                print("No team with contacts in this database: seed it first.", file=sys.stderr)
                return 1
            owner = _team_owner(team.id)
            if owner is None:
                print(f"Team {team.name!r} has no members to log in as.", file=sys.stderr)
                return 1
            # The contact given the long timeline is the team's newest (see add_timeline above).
            timeline_contact = db.session.scalar(
                select(func.max(Contact.id)).where(Contact.team_id == team.id)
            )
            busiest = (
                timeline_contact,
                db.session.scalar(
                    select(func.count())
                    .select_from(ActivityContact)
                    .where(ActivityContact.contact_id == timeline_contact)
                ),
            )
            company_id = db.session.scalar(
                select(Contact.company_id)
                .where(Contact.team_id == team.id, Contact.company_id.is_not(None))
                .group_by(Contact.company_id)
                .order_by(func.count().desc())
                .limit(1)
            ) or db.session.scalar(select(Company.id).where(Company.team_id == team.id))
            people = db.session.scalar(
                select(func.count()).select_from(Contact).where(Contact.company_id == company_id)
            )
            total = db.session.scalar(
                select(func.count()).select_from(Contact).where(Contact.team_id == team.id)
            )
            tag_id = db.session.scalar(
                select(Tag.id).where(Tag.team_id == team.id).order_by(Tag.id).limit(1)
            )
            owner_key, owner_id, team_id = owner.get_id(), owner.id, team.id
            contact_id, timeline = busiest
            activities = db.session.scalar(select(func.max(Activity.id))) or 0
        htmx = {"HX-Request": "true"}
        # What htmx sends: the filter box swaps #contact-results, the sentinel itself.
        typed = {"HX-Request": "true", "HX-Target": "contact-results"}
        more = {"HX-Request": "true", "HX-Target": "contacts-more"}
        pages = [
            ("contact list", "/contacts", {}),
            ("contact list, next page (htmx)", "/contacts?after=NEXT", more),
            ("contact list, tag + owner", f"/contacts?tag={tag_id}&owner={owner_id}", {}),
            ("contact list, tag", f"/contacts?tag={tag_id}", {}),
            ("contact list, owner", f"/contacts?owner={owner_id}", {}),
            ("contact list, sorted newest", "/contacts?sort=newest", {}),
            ("owner filter + sort (htmx)", f"/contacts?owner={owner_id}&sort=recent", typed),
            ("contact list, sorted recent", "/contacts?sort=recent", {}),
            ("as-you-type filter 'j' (htmx)", "/contacts?q=j", typed),
            ("as-you-type filter 'jo' (htmx)", "/contacts?q=jo", typed),
            ("as-you-type filter 'john' (htmx)", "/contacts?q=john", typed),
            ("as-you-type 'j' + tag (htmx)", f"/contacts?q=j&tag={tag_id}", typed),
            (f"contact page ({timeline:,} entries)", f"/contacts/{contact_id}", {}),
            (f"company page ({people:,} people)", f"/companies/{company_id}", {}),
            ("company list", "/companies", {}),
            ("likely duplicates of a contact", f"/contacts/{contact_id}/duplicates", htmx),
            ("CSV export of one tag (download)", f"/contacts/export.csv?tag={tag_id}", {}),
        ]
        client = app.test_client()
        # Log in through the session (as Flask-Login would): a reused database may have been
        # seeded by `crm seed` with another team name and password.
        with client.session_transaction() as session:
            session["_user_id"] = owner_key
            session["_fresh"] = True
            session["team_id"] = team_id
        if client.get("/contacts").status_code != 200:
            print(f"Could not open /contacts as user {owner_id}.", file=sys.stderr)
            return 1
        print(
            f"\n{total:,} contacts, {activities:,} activities · {args.runs} requests per page · "
            f"server time in ms, wall and this process's CPU (target p95 ≤ {TARGET_MS:.0f})"
        )
        print(f"load average before: {_load()} on {os.cpu_count()} CPUs\n")
        print(
            f"| {'page':<38} | wall p50 | wall p95 | CPU p50 | CPU p95 | status |\n"
            f"| {'-' * 38} | -------: | -------: | ------: | ------: | ------ |"
        )
        failed = False
        for label, url, headers in pages:
            if "after=NEXT" in url:
                url = url.replace("NEXT", _next_cursor(client))
            first = client.get(url, headers=headers)
            if first.status_code == 404:
                print(f"| {label:<38} | {'':>8} | {'':>8} | {'':>7} | {'':>7} | n/a    |")
                continue
            if first.status_code != 200:
                code = f"HTTP {first.status_code}"
                print(f"| {label:<38} | {'':>8} | {'':>8} | {'':>7} | {'':>7} | {code} |")
                failed = True
                continue
            for _ in range(2):  # warm caches
                client.get(url, headers=headers).close()
            walls, cpus = [], []
            for _ in range(args.runs):
                start, cpu = time.perf_counter(), time.process_time()
                response = client.get(url, headers=headers)
                response.get_data()
                walls.append((time.perf_counter() - start) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
            p95, cpu95 = _percentile(walls, 0.95), _percentile(cpus, 0.95)
            if "(download)" in label:
                verdict = "dl"
            else:
                verdict = "ok" if p95 <= TARGET_MS else "ok CPU" if cpu95 <= TARGET_MS else "SLOW"
            print(
                f"| {label:<38} | {statistics.median(walls):8.1f} | {p95:8.1f} | "
                f"{statistics.median(cpus):7.1f} | {cpu95:7.1f} | {verdict:<6} |"
            )
        print(f"\nload average after: {_load()}")
        return 1 if failed else 0
    finally:
        if not args.reuse:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
