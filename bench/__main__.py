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
    return p.parse_args(argv)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


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

    from crm import create_app, seed
    from crm.extensions import db
    from crm.models import ActivityContact, Company, Contact, Membership, Team, User

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
                team, users = seed.ensure_team("Bench Co", password)
                last = [None]

                def progress(label, n):
                    if label != last[0]:
                        print(f"  seeding {label}…", file=sys.stderr)
                        last[0] = label

                counts = seed.seed(
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
                seed.add_timeline(team.id, contact_id, args.timeline, users[0].id)
                db.session.execute(db.text("ANALYZE"))
                db.session.commit()
                took = time.perf_counter() - started
                print(
                    f"Seeded {', '.join(f'{v:,} {k}' for k, v in counts.items() if v)} "
                    f"+ a {args.timeline:,}-entry timeline in {took:.0f} s."
                )
            team = db.session.scalar(select(Team).where(Team.name == "Bench Co"))
            owner = db.session.scalar(
                select(User).join(Membership).where(Membership.team_id == team.id).order_by(User.id)
            )
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
            total = db.session.scalar(
                select(func.count()).select_from(Contact).where(Contact.team_id == team.id)
            )
            owner_email, owner_id = owner.email, owner.id
            contact_id, timeline = busiest
        htmx = {"HX-Request": "true"}
        pages = [
            ("contact list", "/contacts", {}),
            ("contact list, tag + owner", f"/contacts?tag=vip&owner={owner_id}", {}),
            ("contact list, sorted", "/contacts?sort=-created", {}),
            ("as-you-type filter (htmx)", "/contacts?q=jo", htmx),
            (f"contact page ({timeline:,} entries)", f"/contacts/{contact_id}", {}),
            ("company page", f"/companies/{company_id}", {}),
            ("likely duplicates of a contact", f"/contacts/{contact_id}/duplicates", htmx),
            ("CSV export of one tag (download)", "/contacts/export.csv?tag=vip", {}),
        ]
        client = app.test_client()
        login = client.post("/login", data={"email": owner_email, "password": password})
        if login.status_code not in (302, 303):
            print(f"Could not log in as {owner_email} ({login.status_code}).", file=sys.stderr)
            return 1
        print(
            f"\n{total:,} contacts · {args.runs} requests per page · server time in ms "
            f"(target p95 ≤ {TARGET_MS:.0f})\n"
        )
        print(f"{'page':<40} {'p50':>8} {'p95':>8} {'max':>8}  status")
        print("-" * 76)
        failed = False
        for label, url, headers in pages:
            first = client.get(url, headers=headers)
            if first.status_code == 404:
                print(f"{label:<40} {'':>8} {'':>8} {'':>8}  not available")
                continue
            if first.status_code != 200:
                print(f"{label:<40} {'':>8} {'':>8} {'':>8}  HTTP {first.status_code}")
                failed = True
                continue
            for _ in range(2):  # warm caches
                client.get(url, headers=headers).close()
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                response = client.get(url, headers=headers)
                response.get_data()
                times.append((time.perf_counter() - start) * 1000)
            p50, p95 = statistics.median(times), _percentile(times, 0.95)
            verdict = "download" if "(download)" in label else "ok" if p95 <= TARGET_MS else "SLOW"
            print(f"{label:<40} {p50:>8.1f} {p95:>8.1f} {max(times):>8.1f}  {verdict}")
        return 1 if failed else 0
    finally:
        if not args.reuse:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
