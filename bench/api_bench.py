"""GET /api/v1/contacts?limit=100 latency at scale (issue 16: p95 ≤ 30 ms at 100,000 contacts).

    .venv/bin/python bench/api_bench.py [--contacts 100000] [--runs 200] [--reuse DIR]

A SQLite database built by the migrations and seeded with `crm seed`'s generator (contacts,
a tenth as many companies, 10 activities per 100 contacts: the timeline does not change this
list); then, through Flask's test client (the whole app minus the socket) with a bearer token,
after 20 warm-up requests: the first page, pages deep in the list (a cursor taken from a walk),
a filtered page (`q=` prefix), a `sort=-updated` page and a sync page (`updated_since`).
Prints wall and CPU time per request (p50/p95): on a shared machine wall time includes
waiting for a CPU, CPU time is what a request costs.
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
    from crm.seed import ensure_team, seed

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
        team_id = team.id
    headers = {"Authorization": f"Bearer {secret}"}
    client = app.test_client()

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


if __name__ == "__main__":
    main()
