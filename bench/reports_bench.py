"""Reports benchmark: every report (page and htmx partial) and the dashboard, p50/p95.

    /work/main/.venv/bin/python bench/reports_bench.py [--contacts 100000] [--deals 50000]
        [--activities 200000] [--tasks 20000] [--runs 30] [--reuse DIR] [--database-url URL]

Seeds one team with `crm seed`'s code (contacts, companies, timeline, deals with their stage
history, tasks) into a temporary SQLite database built by the migrations (or into
--database-url, e.g. a PostgreSQL database, which is emptied first), then times requests
through Flask's test client (the whole app minus the socket) after 3 warm-up requests each.
Prints wall-clock and CPU milliseconds (on a shared machine the CPU time is the honest one)
and the SQL statements each request runs; --plans also prints the query plan of every
statement of one request per case (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL).
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pct(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=5_000)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--activities", type=int, default=200_000)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reuse", metavar="DIR", help="keep the SQLite database in DIR")
    parser.add_argument("--database-url", help="another database (emptied first)")
    parser.add_argument("--plans", action="store_true", help="print each statement's plan")
    parser.add_argument("--only", help="run only the cases whose label contains this")
    args = parser.parse_args()

    tmp = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="rapport-reports-"))
    tmp.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    # --reuse with --database-url keeps that database as it is (seeded by an earlier run).
    seeded = bool(args.reuse) and (bool(args.database_url) or (tmp / "bench.db").exists())
    os.environ["CRM_DATA_DIR"] = str(tmp)
    from flask_migrate import upgrade
    from sqlalchemy import event, func, select, text

    from crm import create_app
    from crm.extensions import db
    from crm.models import Activity, Contact, Deal, DealStageHistory, Task
    from crm.seed import generate as seed

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
    password = "demo password 123"
    try:
        with app.app_context():
            if args.database_url and url.startswith("postgresql") and not seeded:
                with db.engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            upgrade()
            team, users = seed.ensure_team("Bench Co", password)
            if not seeded:
                started = time.perf_counter()
                seed.seed(
                    team,
                    users,
                    contacts=args.contacts,
                    companies=args.companies,
                    activities=args.activities,
                    deals=args.deals,
                    tasks=args.tasks,
                    progress=lambda label, n: print(f"\r  {label}: {n:,}   ", end="", flush=True),
                )
                print(f"\nseeded in {time.perf_counter() - started:.0f} s")
                if url.startswith("sqlite"):
                    db.session.execute(text("ANALYZE"))
                else:
                    db.session.execute(text("ANALYZE"))
                db.session.commit()
            scale = {
                name: db.session.scalar(select(func.count(model.id)))
                for name, model in (
                    ("contacts", Contact),
                    ("activities", Activity),
                    ("deals", Deal),
                    ("stage history rows", DealStageHistory),
                    ("tasks", Task),
                )
            }
            print(
                "scale: " + ", ".join(f"{v:,} {k}" for k, v in scale.items()),
                f"({db.engine.dialect.name})",
            )
            email = users[0].email
        statements: list[tuple[str, object]] = []
        with app.app_context():
            engine = db.engine
            dialect = engine.dialect.name

        @event.listens_for(engine, "before_cursor_execute")
        def _count(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        client = app.test_client()
        client.post("/login", data={"email": email, "password": password})
        assert client.get("/").status_code == 200
        hx = {"HX-Request": "true"}
        cases = [
            ("dashboard (GET /)", "/", {}),
            ("forecast, this quarter", "/reports/forecast", {}),
            ("forecast partial, next 12 months", "/reports/forecast?period=next_12_months", hx),
            ("win/loss, last 12 months", "/reports/win-loss", {}),
            ("win/loss partial, this year", "/reports/win-loss?period=this_year", hx),
            ("funnel, last quarter", "/reports/funnel", {}),
            ("funnel partial, last 12 months", "/reports/funnel?period=last_12_months", hx),
            ("activity, this month", "/reports/activity", {}),
            ("activity partial, last quarter", "/reports/activity?period=last_quarter", hx),
            ("pipeline health", "/reports/health", {}),
            ("forecast CSV", "/reports/forecast.csv?table=forecast", {}),
        ]
        if args.only:
            cases = [c for c in cases if args.only in c[0]]
        if args.plans:
            for label, path, headers in cases:
                statements.clear()
                client.get(path, headers=headers).close()
                print(f"\n### {label}: {len(statements)} statements\n")
                for statement, parameters in list(statements):
                    if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                        continue
                    print("    " + " ".join(statement.split())[:160])
                    explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
                    with engine.connect() as conn:
                        rows = conn.exec_driver_sql(explain + statement, parameters).all()
                    for row in rows:
                        print("      " + str(row[-1]))
        print(f"\n{args.runs} runs each, ms:\n")
        print(
            "| request                              | wall p50 | wall p95 | CPU p50 | CPU p95 "
            "| SQL statements |"
        )
        print(
            "| ------------------------------------ | -------: | -------: | ------: | ------: "
            "| -------------: |"
        )
        for label, path, headers in cases:
            for _ in range(3):
                statements.clear()
                response = client.get(path, headers=headers)
                assert response.status_code == 200, (path, response.status_code)
                response.close()
            count = len(statements)
            walls, cpus = [], []
            for _ in range(args.runs):
                start, cpu = time.perf_counter(), time.process_time()
                client.get(path, headers=headers).close()
                walls.append((time.perf_counter() - start) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
            print(
                f"| {label:<36} | {statistics.median(walls):8.1f} | {pct(walls, 95):8.1f} "
                f"| {statistics.median(cpus):7.1f} | {pct(cpus, 95):7.1f} | {count:14d} |"
            )
        print(f"\nload average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        if not args.reuse:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
