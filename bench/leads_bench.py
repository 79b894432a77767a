"""Web-to-lead throughput: form submissions per second on the embedded default (SQLite).

    /work/main/.venv/bin/python bench/leads_bench.py [--submissions 1000] [--threads 4]

A temporary SQLite database built by the app factory and the migrations; one team of four
members in a round-robin rule; one form (name, email, company, message, tag, follow-up task
off). Each submission is a real POST to /f/<token> through Flask's test client (the whole app
minus the socket), with a signed fill-time stamp and a new email, so every one creates a
contact, a lead, a company (one in ten names repeats), a timeline entry and an outbox notice.
Threads post at once, as a burst from a busy website would. Prints submissions/s and the
machine's load average at the start and end (other work on the box lowers the figure).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL = 200.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rapport-leads-bench-"))
    os.environ["CRM_DATA_DIR"] = str(tmp)
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from crm import create_app
    from crm.auth import services as accounts
    from crm.extensions import db
    from crm.leads import services
    from crm.models import Lead, Membership, Team, User

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
            "CRM_DATA_DIR": str(tmp),
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            "LEADS_RATE_PER_ADDRESS": "1000000/minute",
            "LEADS_RATE_PER_FORM": "1000000/minute",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
            "BASE_URL": "http://localhost",
        }
    )
    try:
        with app.app_context():
            upgrade()
            owner = accounts.signup(
                name="Owner", email="owner@bench.example", password="x" * 12, team_name="Bench"
            )
            team = db.session.get(Team, owner.last_team_id)
            pool = [owner.id]
            for i in range(3):
                user = User(name=f"Rep {i}", email=f"rep{i}@bench.example", password_hash="x")
                db.session.add(user)
                db.session.flush()
                db.session.add(Membership(team_id=team.id, user_id=user.id))
                pool.append(user.id)
            db.session.commit()
            form = services.save_form(
                team.id,
                None,
                {
                    "name": "Website",
                    "fields": ["name", "email", "company", "message"],
                    "required": ["email"],
                    "tag": "website",
                    "rule": {"mode": "round_robin", "pool": pool},
                },
            )
            token, stamp = form.token, services.stamp(form, at=time.time() - 60)

        def post(client, i):
            response = client.post(
                f"/f/{token}",
                data={
                    "_ts": stamp,
                    "name": f"Visitor {i}",
                    "email": f"visitor{i}@example.com",
                    "company": f"Company {i % (args.submissions // 10 or 1)}",
                    "message": "Please call me about pricing. " * 5,
                    "utm_source": "bench",
                },
            )
            assert response.status_code == 200, response.status_code

        with app.app_context():  # warm-up: templates, statements
            warm = app.test_client()
            for i in range(20):
                post(warm, -1 - i)

        per_thread = args.submissions // args.threads
        start = threading.Barrier(args.threads + 1)

        def worker(t):
            client = app.test_client()
            start.wait()
            profile = os.environ.get("LEADS_BENCH_PROFILE")
            if profile:
                import cProfile

                cProfile.runctx(
                    "for i in range(t * per_thread, (t + 1) * per_thread): post(client, i)",
                    globals(),
                    {"t": t, "per_thread": per_thread, "post": post, "client": client},
                    sort="tottime" if profile == "1" else profile,
                )
                return
            for i in range(t * per_thread, (t + 1) * per_thread):
                post(client, i)

        load_before = os.getloadavg()
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
        for thread in threads:
            thread.start()
        start.wait()
        began, cpu_began = time.perf_counter(), time.process_time()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu_began
        load_after = os.getloadavg()
        total = per_thread * args.threads
        with app.app_context():
            leads = db.session.scalar(select(func.count(Lead.id)))
            spread = db.session.execute(
                select(Lead.assignee_id, func.count()).group_by(Lead.assignee_id)
            ).all()
        rate = total / elapsed
        print(f"submissions: {total} in {elapsed:.2f} s with {args.threads} threads")
        print(
            f"rate: {rate:.0f} submissions/s (goal ≥ {GOAL:.0f}/s: "
            f"{'met' if rate >= GOAL else 'NOT met'})"
        )
        print(
            f"CPU per submission: {cpu / total * 1000:.1f} ms "
            f"(≈ {total / cpu:.0f}/s if this process had one core to itself; the GIL keeps it "
            "to one core)"
        )
        print(f"leads: {leads}; per assignee: {sorted(n for _, n in spread)}")
        print(f"load average (1 min) before/after: {load_before[0]:.1f} / {load_after[0]:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
