"""Custom fields benchmark: the contact list filtered and sorted by a custom select and a custom
date field, at 100,000 contacts each with 10 custom values; typed value rows (what Rapport
stores) against a JSON column with expression indexes (the alternative), on the same data.

    /work/main/.venv/bin/python bench/custom_fields_bench.py [--contacts 100000] [--runs 60]
        [--database-url postgresql+psycopg://…]   (default: a temporary SQLite file)

Times contact_page() (the list's own query object, with its eager loads) for four list states
and prints p50 / p95 wall time and CPU time per query. The database's schema is reset first.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pct(values, p):
    values = sorted(values)
    return values[max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--database-url")
    parser.add_argument("--reuse", metavar="DIR", help="SQLite: keep the database in DIR")
    args = parser.parse_args()
    tmp = Path(args.reuse or tempfile.mkdtemp(prefix="rapport-cf-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    reuse = bool(args.reuse) and (tmp / "bench.db").exists() and not args.database_url
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    os.environ["CRM_DATA_DIR"] = str(tmp)

    from flask_migrate import upgrade
    from sqlalchemy import create_engine, select, text
    from werkzeug.datastructures import MultiDict

    from crm import create_app
    from crm.auth import services as accounts
    from crm.contacts.queries import ContactFilters, contact_page
    from crm.custom_fields import services as fields
    from crm.extensions import db
    from crm.models import Team
    from crm.seed.bulk import insert_rows

    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "CRM_DATA_DIR": str(tmp),
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "REDIS_URL": None,
            "RATELIMIT_ENABLED": False,
        }
    )
    rng = random.Random(7)
    with app.app_context():
        upgrade()
        if reuse:
            from crm.kernel.custom_fields import fields_for

            team = db.session.scalars(select(Team)).first()
            defined = fields_for(team.id, "contact")
            run(args, team, defined, db, contact_page, ContactFilters, MultiDict, text)
            return
        user = accounts.signup(
            name="Bench",
            email="bench@example.com",
            password="correct horse battery",
            team_name="Bench",
        )
        team = db.session.get(Team, user.last_team_id)
        started = time.perf_counter()
        specs = [
            ("Plan", "select", {"options": "Free\nBasic\nPro\nBusiness\nEnterprise"}),
            ("Renewal", "date", {}),
            ("Seats", "number", {}),
            ("ARR", "money", {"currency": "USD"}),
            ("Industry", "text", {}),
            ("Region", "select", {"options": "EMEA\nAMER\nAPAC"}),
            ("Churn risk", "checkbox", {}),
            ("Signed", "date", {}),
            ("Website", "url", {}),
            ("Score", "number", {}),
        ]
        defined = [
            fields.create_field(team.id, {"label": n, "type": t, "entity": "contact", **d}, None)
            for n, t, d in specs
        ]
        from crm.models import Contact, CustomValue
        from crm.seed.generate import seed

        seed(team, [user], contacts=args.contacts)
        contacts = [
            {"id": i}
            for i in db.session.scalars(
                select(Contact.id).where(Contact.team_id == team.id).order_by(Contact.id)
            )
        ]
        base = date(2026, 1, 1)
        json_rows, value_rows = [], []
        for row in contacts:
            cid = row["id"]
            data = {}
            for field in defined:
                v = {
                    "record_type": "contact",
                    "record_id": cid,
                    "field_id": field.id,
                    "team_id": team.id,
                    "text_value": None,
                    "number_value": None,
                    "date_value": None,
                    "long_value": None,
                }
                if field.type == "select":
                    v["text_value"] = rng.choice(field.options)["id"]
                elif field.type == "date":
                    v["date_value"] = base + timedelta(days=rng.randrange(730))
                elif field.type in ("number", "money", "checkbox"):
                    v["number_value"] = float(
                        rng.randrange(2 if field.type == "checkbox" else 10**5)
                    )
                elif field.type == "url":
                    v["text_value"] = f"https://example{cid}.com"
                else:
                    v["text_value"] = rng.choice(["Software", "Retail", "Health", "Finance"])
                value_rows.append(v)
                data[field.key] = v["text_value"] or (
                    v["date_value"].isoformat() if v["date_value"] else v["number_value"]
                )
            json_rows.append({"contact_id": cid, "team_id": team.id, "data": data})
        for i in range(0, len(value_rows), 20000):
            insert_rows(CustomValue, value_rows[i : i + 20000])
        db.session.commit()
        seeded = time.perf_counter() - started
        # The alternative: one JSON document per record, expression indexes per queried key.
        sqlite = db.engine.dialect.name == "sqlite"
        db.session.execute(
            text(
                "CREATE TABLE bench_json (contact_id INTEGER PRIMARY KEY, team_id INTEGER, data "
                + ("TEXT" if sqlite else "JSONB")
                + ")"
            )
        )
        import json

        db.session.execute(
            text("INSERT INTO bench_json VALUES (:contact_id, :team_id, :data)"),
            [{**r, "data": json.dumps(r["data"])} for r in json_rows],
        )
        get = (
            (lambda k: f"json_extract(data, '$.{k}')") if sqlite else (lambda k: f"(data->>'{k}')")
        )
        for key in ("plan", "renewal"):
            db.session.execute(
                text(
                    f"CREATE INDEX bench_json_{key} ON bench_json (team_id, {get(key)}, contact_id)"
                )
            )
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        print(
            f"{db.engine.dialect.name}: seeded {args.contacts:,} contacts × 10 values in "
            f"{seeded:.0f} s"
        )

        run(args, team, defined, db, contact_page, ContactFilters, MultiDict, text)


def run(args, team, defined, db, contact_page, ContactFilters, MultiDict, text) -> None:
    if True:
        sqlite = db.engine.dialect.name == "sqlite"

        def get(key: str) -> str:
            return f"json_extract(data, '$.{key}')" if sqlite else f"(data->>'{key}')"

        plan = defined[0]
        pro = plan.options[2]["id"]
        states = {
            "plan = Pro, sorted by renewal": {"cf_plan": pro, "sort": "cf_renewal"},
            "renewal in Q1 2026, sorted by plan": {
                "cf_renewal__min": "2026-01-01",
                "cf_renewal__max": "2026-03-31",
                "sort": "cf_plan",
            },
            "sorted by renewal (desc), page 3": {"sort": "-cf_renewal", "pages": 3},
            "plan any of Basic, Pro": {"cf_plan__any": f"{plan.options[1]['id']},{pro}"},
        }
        for label, state in states.items():
            state = dict(state)
            pages = state.pop("pages", 1)
            walls, cpus = [], []
            for run in range(args.runs + 5):
                db.session.rollback()
                w0, c0 = time.perf_counter(), time.process_time()
                cursor = None
                for _ in range(pages):
                    page = contact_page(team.id, ContactFilters.from_args(MultiDict(state)), cursor)
                    cursor = page.next_cursor
                w, c = time.perf_counter() - w0, time.process_time() - c0
                if run >= 5:
                    walls.append(w * 1000 / pages)
                    cpus.append(c * 1000 / pages)
            print(
                f"  typed rows  {label:40} p50 {statistics.median(walls):6.1f} ms  "
                f"p95 {pct(walls, 95):6.1f} ms  cpu p50 {statistics.median(cpus):6.1f} ms "
                f"({len(page.items)} rows)"
            )
        json_queries = {
            "plan = Pro, sorted by renewal": (
                f"SELECT contact_id FROM bench_json WHERE team_id = :t AND {get('plan')} = :p "
                f"ORDER BY {get('renewal')}, contact_id LIMIT 51"
            ),
            "renewal in Q1 2026, sorted by plan": (
                f"SELECT contact_id FROM bench_json WHERE team_id = :t AND {get('renewal')} "
                f"BETWEEN '2026-01-01' AND '2026-03-31' ORDER BY {get('plan')}, contact_id LIMIT 51"
            ),
        }
        for label, sql in json_queries.items():
            walls, cpus = [], []
            for run in range(args.runs + 5):
                w0, c0 = time.perf_counter(), time.process_time()
                db.session.execute(text(sql), {"t": team.id, "p": pro}).all()
                if run >= 5:
                    walls.append((time.perf_counter() - w0) * 1000)
                    cpus.append((time.process_time() - c0) * 1000)
            print(
                f"  JSON (ids)  {label:40} p50 {statistics.median(walls):6.1f} ms  "
                f"p95 {pct(walls, 95):6.1f} ms  cpu p50 {statistics.median(cpus):6.1f} ms"
            )


if __name__ == "__main__":
    main()
