"""GET /api/v1/contacts?limit=100 latency at scale (issue 16: p95 ≤ 30 ms at 100,000 contacts).

    .venv/bin/python bench/api_bench.py [--contacts 100000] [--runs 200] [--reuse DIR]

A SQLite database built by the migrations and seeded with `crm seed`'s generator (contacts,
a tenth as many companies, 10 activities per 100 contacts: the timeline does not change this
list); then, through Flask's test client (the whole app minus the socket) with a bearer token,
after 20 warm-up requests: the first page, pages deep in the list (a cursor taken from a walk),
a filtered page (`q=` prefix), a `sort=-updated` page and a sync page (`updated_since`).
Prints wall and CPU time per request (p50/p95): on a shared machine wall time includes
waiting for a CPU, CPU time is what a request costs.

First it counts the SQL statements each kind of request runs (lists at 10 and at 100 records,
which must be the same number: nothing is loaded per row, custom fields included — the bench
adds three custom fields with values on every contact it lists — and the writes), which does
not depend on the machine's load:

    python -m bench.api_bench --contacts 5000 --runs 50
"""

from __future__ import annotations

import argparse
import os
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
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--reuse", metavar="DIR", help="keep the database in DIR and reuse it")
    args = parser.parse_args()

    tmp = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="rapport-api-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    seeded = bool(args.reuse) and (tmp / "bench.db").exists()
    os.environ["CRM_DATA_DIR"] = str(tmp)
    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from crm import create_app
    from crm.api import tokens
    from crm.extensions import db
    from crm.models import Contact
    from crm.seed.generate import ensure_team, seed

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
            "CRM_DATA_DIR": str(tmp),
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
        team, users = ensure_team("API Bench", "bench password 123")
        if not seeded:
            started = time.perf_counter()
            seed(
                team,
                users,
                contacts=args.contacts,
                companies=max(1, args.contacts // 10),
                activities=args.contacts // 10,
                deals=0,
                tasks=0,
            )
            db.session.execute(text("ANALYZE"))
            db.session.commit()
            print(f"seeded in {time.perf_counter() - started:.1f} s")
        total = db.session.scalar(select(func.count(Contact.id)).where(Contact.team_id == team.id))
        _, secret = tokens.create_token(team.id, users[0].id, name="bench", scope="read")
        team_id, user_id = team.id, users[0].id
    headers = {"Authorization": f"Bearer {secret}"}
    client = app.test_client()
    count_statements(app, client, team_id, user_id)

    def get(url):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code, response.data[:300])
        return response.get_json()

    # Cursors deep in the list: walk a few pages of 200 from the start and from the middle.
    deep = []
    page = get("/api/v1/contacts?limit=200")
    for _ in range(5):
        deep.append(page["next_cursor"])
        page = get(f"/api/v1/contacts?limit=200&cursor={page['next_cursor']}")
    since = "2000-01-01T00:00:00Z"
    cases = {
        "first page (sort=name)": lambda i: "/api/v1/contacts?limit=100",
        "a later page (cursor)": lambda i: f"/api/v1/contacts?limit=100&cursor={deep[i % 5]}",
        "filtered (q=ma)": lambda i: "/api/v1/contacts?limit=100&q=ma",
        "sort=-updated": lambda i: "/api/v1/contacts?limit=100&sort=-updated",
        "sync (updated_since, sort=updated)": lambda i: (
            f"/api/v1/contacts?limit=100&sort=updated&updated_since={since}"
        ),
    }
    print(
        f"{total:,} contacts in team {team_id}; {args.runs} runs per request; "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(f"| {'request':36} | wall p50 | wall p95 | CPU p50 | CPU p95 |")
    print(f"| {'-' * 36} | -------: | -------: | ------: | ------: |")
    for label, url_of in cases.items():
        for i in range(20):
            get(url_of(i))
        wall, cpu = [], []
        for i in range(args.runs):
            url = url_of(i)
            w0, c0 = time.perf_counter(), time.process_time()
            body = get(url)
            wall.append((time.perf_counter() - w0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            assert len(body["data"]) == 100
        print(
            f"| {label:36} | {pct(wall, 50):8.1f} | {pct(wall, 95):8.1f} | "
            f"{pct(cpu, 50):7.1f} | {pct(cpu, 95):7.1f} |"
        )
    print(f"(mean wall of the last case: {statistics.mean(wall):.1f} ms)")


def count_statements(app, client, team_id: int, user_id: int) -> None:
    """SQL statements per request, for lists at two sizes and for each kind of write."""
    from sqlalchemy import event, select

    from crm.api import tokens
    from crm.custom_fields.services import create_field
    from crm.extensions import db
    from crm.kernel import custom_fields
    from crm.models import Contact, CustomField

    with app.app_context():
        fields = db.session.scalars(
            select(CustomField).where(CustomField.team_id == team_id, CustomField.key == "plan")
        ).all()
        if not fields:
            create_field(
                team_id,
                {"label": "Plan", "type": "select", "entity": "contact", "options": "A\nB\nC"},
                None,
            )
            create_field(team_id, {"label": "Seats", "type": "number", "entity": "contact"}, None)
            create_field(team_id, {"label": "Renewal", "type": "date", "entity": "contact"}, None)
            plan, seats, renewal = custom_fields.fields_for(team_id, "contact")[:3]
            ids = db.session.scalars(
                select(Contact.id).where(Contact.team_id == team_id).order_by(Contact.sort_name)
            ).all()[:1000]
            for i, contact_id in enumerate(ids):
                custom_fields.store(plan, "contact", contact_id, plan.options[i % 3]["id"])
                custom_fields.store(seats, "contact", contact_id, i % 50)
            db.session.commit()
            del renewal
        _, secret = tokens.create_token(team_id, user_id, name="bench-write", scope="write")
        seen = {"n": 0}

        def tick(*_args, **_kwargs):
            seen["n"] += 1

        event.listen(db.engine, "before_cursor_execute", tick)
    write = {"Authorization": f"Bearer {secret}"}

    def n(method, url, **kwargs):
        seen["n"] = 0
        response = client.open(url, method=method, headers=write, **kwargs)
        assert response.status_code < 300, (url, response.status_code, response.data[:300])
        return seen["n"], response

    print("| request | statements at limit=10 | at limit=100 |")
    print("| --- | ---: | ---: |")
    for path in ("contacts", "companies", "activities"):
        n("GET", f"/api/v1/{path}?limit=10")  # warm caches (token lookup, etc.) alike
        small, _ = n("GET", f"/api/v1/{path}?limit=10")
        big, _ = n("GET", f"/api/v1/{path}?limit=100")
        print(f"| GET /api/v1/{path} | {small} | {big} |")
    small, _ = n("GET", "/api/v1/contacts?limit=10&cf_plan=A")
    big, _ = n("GET", "/api/v1/contacts?limit=100&cf_plan=A")
    print(f"| GET /api/v1/contacts?cf_plan=A | {small} | {big} |")
    print()
    print("| write | statements |")
    print("| --- | ---: |")
    made, response = n(
        "POST",
        "/api/v1/contacts",
        json={"first_name": "Bench", "emails": [{"email": f"bench-{time.time_ns()}@example.com"}]},
    )
    print(f"| POST /api/v1/contacts | {made} |")
    contact_id = response.get_json()["id"]
    with_custom, _ = n(
        "POST", "/api/v1/contacts", json={"first_name": "Bench2", "custom_fields": {"plan": "B"}}
    )
    print(f"| POST /api/v1/contacts with one custom value | {with_custom} |")
    for label, method, url, body in (
        ("PATCH a field", "PATCH", f"/api/v1/contacts/{contact_id}", {"title": "CTO"}),
        (
            "PATCH a custom value",
            "PATCH",
            f"/api/v1/contacts/{contact_id}",
            {"custom_fields": {"plan": "C"}},
        ),
        ("GET one", "GET", f"/api/v1/contacts/{contact_id}", None),
        ("DELETE", "DELETE", f"/api/v1/contacts/{contact_id}", None),
        ("POST …/restore", "POST", f"/api/v1/contacts/{contact_id}/restore", None),
    ):
        count, _ = n(method, url, json=body) if body else n(method, url)
        print(f"| {label} | {count} |")
    print()


if __name__ == "__main__":
    main()
