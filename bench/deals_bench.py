"""Deal board benchmark: 5,000 open deals in 6 stages; board render and move p50/p95.

    /work/main/.venv/bin/python bench/deals_bench.py [--deals 5000] [--runs 200] [--reuse DIR]

Builds a temporary SQLite database (with --reuse, one kept in DIR and reused next time)
through the app factory and the migrations, bulk-inserts the deals, then times requests
through Flask's test client (the whole stack minus the socket).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pct(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--reuse", metavar="DIR", help="keep the database in DIR and reuse it")
    args = parser.parse_args()

    tmp = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="rapport-deals-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    seeded = bool(args.reuse) and (tmp / "bench.db").exists()
    os.environ["CRM_DATA_DIR"] = str(tmp)
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from crm import create_app
    from crm.auth import services as accounts
    from crm.deals import queries, services
    from crm.deals.services import GAP
    from crm.extensions import db
    from crm.models import Company, Deal, Team, User, utcnow

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
            "CRM_DATA_DIR": str(tmp),
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "REDIS_URL": None,
            "RATELIMIT_ENABLED": False,
        }
    )

    def seed_deals():
        user = accounts.signup(
            name="Bench",
            email="bench@example.com",
            password="correct horse battery",
            team_name="Bench",
        )
        team = db.session.get(Team, user.last_team_id)
        pipeline = queries.current_pipeline(team.id, None)
        services.add_stage(pipeline, "Contract sent", 85, 7)
        services.add_stage(pipeline, "Verbal yes", 95, 3)
        stages = [s.id for s in pipeline.stages]
        assert len(stages) == 6
        db.session.execute(
            insert(Company),
            [
                {"team_id": team.id, "name": f"Company {i}", "sort_name": f"company {i}"}
                for i in range(500)
            ],
        )
        company_ids = db.session.scalars(select(Company.id)).all()
        rng = random.Random(4)
        now = utcnow()
        rows = []
        for i in range(args.deals):
            stage_id = stages[i % 6]
            rows.append(
                {
                    "team_id": team.id,
                    "title": f"Deal {i}",
                    "pipeline_id": pipeline.id,
                    "stage_id": stage_id,
                    "value_minor": rng.randrange(1_000_00, 100_000_00),
                    "currency": "USD",
                    "owner_id": user.id,
                    "company_id": rng.choice(company_ids),
                    "expected_close": date.today() + timedelta(days=rng.randrange(90)),
                    "status": "open",
                    "position": (i // 6) * GAP,
                    "created_at": now - timedelta(days=rng.randrange(60)),
                    "updated_at": now,
                    "stage_entered_at": now - timedelta(days=rng.randrange(30)),
                }
            )
        db.session.execute(insert(Deal), rows)
        db.session.commit()

    try:
        with app.app_context():
            upgrade()  # a reused database gets pending migrations (new indexes) too
            if not seeded:
                seed_deals()
            user = db.session.scalar(select(User).where(User.email == "bench@example.com"))
            team = db.session.get(Team, user.last_team_id)
            stages = [s.id for s in queries.current_pipeline(team.id, None).stages]
            deal_ids = db.session.scalars(
                select(Deal.id).where(Deal.team_id == team.id, Deal.status == "open")
            ).all()
        rng = random.Random(4)

        client = app.test_client()
        client.post(
            "/login", data={"email": "bench@example.com", "password": "correct horse battery"}
        )
        assert client.get("/deals").status_code == 200

        def timed(fn, runs):
            for _ in range(10):  # warm up: templates compiled, statement caches filled
                fn()
            out = []
            for _ in range(runs):
                start, cpu = time.perf_counter(), time.process_time()
                fn()
                out.append(
                    ((time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000)
                )
            return out

        results = {}
        results["board page (GET /deals)"] = timed(
            lambda: client.get("/deals").status_code == 200 or sys.exit("board failed"), args.runs
        )
        results["board partial (htmx)"] = timed(
            lambda: client.get("/deals", headers={"HX-Request": "true"}), args.runs
        )
        results["board filtered (q=Deal 1)"] = timed(
            lambda: client.get("/deals?q=Deal+1", headers={"HX-Request": "true"}), args.runs
        )

        def one_move():
            with app.app_context():
                deal_id = rng.choice(deal_ids)
                deal = db.session.get(Deal, deal_id)
                stage_id = rng.choice(stages)
                above = db.session.scalars(
                    select(Deal.id)
                    .where(Deal.stage_id == stage_id, Deal.status == "open", Deal.id != deal_id)
                    .order_by(Deal.position, Deal.id)
                    .offset(rng.randrange(10))
                    .limit(1)
                ).first()
                data = {
                    "stage_id": stage_id,
                    "after_id": above or "",
                    "version": services.version_of(deal),
                }
            start, cpu = time.perf_counter(), time.process_time()
            response = client.post(
                f"/deals/{deal_id}/move",
                data=data,
                headers={"HX-Request": "true", "HX-Target": f"deal-{deal_id}"},
            )
            elapsed = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
            assert response.status_code == 200, response.status_code
            return elapsed

        results["move (drag, card + OOB totals)"] = [one_move() for _ in range(args.runs)]

        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\n{args.deals:,} open deals in 6 stages, {args.runs} runs each, in ms")
        print(
            f"(wall clock, and this process's CPU time; "
            f"load average {load} on {os.cpu_count()} CPUs)\n"
        )
        print(f"| {'request':34} | wall p50 | wall p95 | CPU p50 | CPU p95 |")
        print(f"| {'-' * 34} | -------: | -------: | ------: | ------: |")
        for name, pairs in results.items():
            wall = [w for w, _ in pairs]
            cpu = [c for _, c in pairs]
            print(
                f"| {name:34} | {statistics.median(wall):8.1f} | {pct(wall, 95):8.1f} |"
                f" {statistics.median(cpu):7.1f} | {pct(cpu, 95):7.1f} |"
            )
    finally:
        if not args.reuse:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
