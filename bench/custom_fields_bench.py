"""Custom fields benchmark: the contact, company and deal lists filtered and sorted by a custom
select and a custom date field, each record with 10 custom values (default: 100,000 contacts,
10,000 companies, 20,000 deals); for contacts also typed value rows (what Rapport stores)
against a JSON column with expression indexes (the alternative), on the same data.

    /work/main/.venv/bin/python -m bench.custom_fields_bench [--contacts 100000]
        [--companies 10000] [--deals 20000] [--runs 60] [--plans]
        [--database-url postgresql+psycopg://…]   (default: a temporary SQLite file)
        [--reuse DIR]   (SQLite: seed once into DIR, later runs only measure)

Times each list's own page function (contact_page(), company_page(), the deal list's
list_page(), with their eager loads) for four list states and prints p50 / p95 wall time, CPU
time and the number of SQL statements per page; --plans prints the query plan of every
statement of one page of each state. The database's schema is reset first (unless reused).
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

SPECS = [
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
ENTITIES = ("contact", "company", "deal")


def pct(values, p):
    values = sorted(values)
    return values[max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=10_000)
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--plans", action="store_true", help="print each statement's plan")
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

    from crm import create_app
    from crm.auth import services as accounts
    from crm.custom_fields import services as fields
    from crm.extensions import db
    from crm.kernel.custom_fields import fields_for
    from crm.models import Company, Contact, CustomValue, Deal, Team
    from crm.seed.bulk import insert_rows

    if url.startswith("postgresql") and not reuse:
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
            team = db.session.scalars(select(Team)).first()
            run(args, app, team, {e: fields_for(team.id, e) for e in ENTITIES})
            return
        user = accounts.signup(
            name="Bench",
            email="bench@example.com",
            password="correct horse battery",
            team_name="Bench",
        )
        team = db.session.get(Team, user.last_team_id)
        started = time.perf_counter()
        defined = {
            entity: [
                fields.create_field(team.id, {"label": n, "type": t, "entity": entity, **d}, None)
                for n, t, d in SPECS
            ]
            for entity in ENTITIES
        }
        from crm.seed.generate import seed

        seed(team, [user], contacts=args.contacts, companies=args.companies, deals=args.deals)
        base = date(2026, 1, 1)
        json_rows = []
        for entity, model in (("contact", Contact), ("company", Company), ("deal", Deal)):
            ids = db.session.scalars(
                select(model.id).where(model.team_id == team.id).order_by(model.id)
            ).all()
            value_rows = []
            for record_id in ids:
                data = {}
                for field in defined[entity]:
                    v = {
                        "record_type": entity,
                        "record_id": record_id,
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
                        v["text_value"] = f"https://example{record_id}.com"
                    else:
                        v["text_value"] = rng.choice(["Software", "Retail", "Health", "Finance"])
                    value_rows.append(v)
                    data[field.key] = v["text_value"] or (
                        v["date_value"].isoformat() if v["date_value"] else v["number_value"]
                    )
                if entity == "contact":
                    json_rows.append({"contact_id": record_id, "team_id": team.id, "data": data})
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
            f"{db.engine.dialect.name}: seeded {args.contacts:,} contacts, {args.companies:,} "
            f"companies, {args.deals:,} deals, × 10 custom values each, in {seeded:.0f} s"
        )
        run(args, app, team, defined)


def _lists(app, team):
    """Each list's page function: (state, cursor) → (rows, next cursor)."""
    from flask import g
    from werkzeug.datastructures import MultiDict

    from crm.companies.queries import CompanyFilters, company_page
    from crm.contacts.queries import ContactFilters, contact_page
    from crm.deals import queries as deals

    def contacts(state, cursor):
        page = contact_page(team.id, ContactFilters.from_args(MultiDict(state)), cursor)
        return page.items, page.next_cursor

    def companies(state, cursor):
        with app.test_request_context():
            g.team = team  # the company list reads the current team, as in a request
            return company_page(CompanyFilters.from_args(MultiDict(state)), cursor)

    def deal_list(state, cursor):
        filters = deals.Filters.from_args(MultiDict(state))
        stmt = deals.list_query(team.id, None, filters, "all")
        return deals.list_page(stmt, state.get("sort", "updated"), cursor, team_id=team.id)

    return {"contacts": contacts, "companies": companies, "deals": deal_list}


class Statements:
    """The SQL statements the engine runs while `on` (to count them and explain them)."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.on, self.seen = False, []
        event.listen(engine, "before_cursor_execute", self._saw)

    def _saw(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.seen.append((statement, parameters))


def _explain(db, statement, parameters) -> str:
    sqlite = db.engine.dialect.name == "sqlite"
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters
        ).all()
    return "\n".join("      " + (row[-1] if sqlite else row[0]) for row in rows)


def run(args, app, team, defined) -> None:
    from sqlalchemy import text

    from crm.extensions import db

    sqlite = db.engine.dialect.name == "sqlite"
    statements = Statements(db.engine)

    def get(key: str) -> str:
        return f"json_extract(data, '$.{key}')" if sqlite else f"(data->>'{key}')"

    lists = _lists(app, team)
    for list_name, entity in (("contacts", "contact"), ("companies", "company"), ("deals", "deal")):
        plan = defined[entity][0]
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
        print(f"{list_name}:")
        for label, state in states.items():
            state = dict(state)
            pages = state.pop("pages", 1)
            walls, cpus = [], []
            for run in range(args.runs + 5):
                db.session.rollback()
                statements.on, statements.seen = run == 0, []
                w0, c0 = time.perf_counter(), time.process_time()
                cursor = None
                for _ in range(pages):
                    rows, cursor = lists[list_name](state, cursor)
                w, c = time.perf_counter() - w0, time.process_time() - c0
                if run == 0:
                    statements.on, seen = False, list(statements.seen)
                if run >= 5:
                    walls.append(w * 1000 / pages)
                    cpus.append(c * 1000 / pages)
            print(
                f"  typed rows  {label:40} p50 {statistics.median(walls):6.1f} ms  "
                f"p95 {pct(walls, 95):6.1f} ms  cpu p50 {statistics.median(cpus):6.1f} ms "
                f"({len(rows)} rows, {len(seen) / pages:.0f} statements a page)"
            )
            if args.plans:
                last_page = seen[-len(seen) // pages :]
                for statement, parameters in last_page:
                    if statement.lstrip().upper().startswith("SELECT"):
                        print("    " + " ".join(statement.split())[:160] + " …")
                        print(_explain(db, statement, parameters))
        if list_name != "contacts":
            continue
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
