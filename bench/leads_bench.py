"""Web-to-lead throughput on the embedded default (SQLite), the request and the job apart.

    /work/main/.venv/bin/python bench/leads_bench.py [--submissions 1000] [--threads 4]
        [--rules 2]

A temporary SQLite database built by the app factory and the migrations; one team of four
members in a round-robin rule; one form (name, email, company, message, tag, follow-up task
off). Each submission is a real POST to /f/<token> through Flask's test client (the whole app
minus the socket), with a signed fill-time stamp and a new email, so every one creates a
contact, a lead, a company (one in ten names repeats), a timeline entry and an outbox notice.

1. The request path: threads post at once, as a burst from a busy website would; each post is
   checked and stored as one submission row (the job is only queued).
2. The job path: the queued drain job turns every stored submission into a contact and lead,
   a batch per transaction, with `--rules` automation rules on "form submitted" attached (their
   run rows are written; the rule jobs themselves are not run here).

Prints submissions/s and SQL statements per submission for each path, and the machine's load
average at the start and end (other work on the shared box lowers every figure).
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
    parser.add_argument("--rules", type=int, default=2)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rapport-leads-bench-"))
    os.environ["CRM_DATA_DIR"] = str(tmp)
    from flask_migrate import upgrade
    from sqlalchemy import event, func, select

    from crm import create_app
    from crm.auth import services as accounts
    from crm.automation import rules
    from crm.extensions import db
    from crm.leads import processing, services
    from crm.models import AutomationRun, Lead, LeadSubmission, Membership, Team, User

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
            for r in range(args.rules):
                rules.create_rule(
                    team.id,
                    owner.id,
                    {
                        "name": f"Tag web leads {r}",
                        "trigger": "form_submitted",
                        "act_type_0": "add_tag",
                        "act_value_0": f"web-{r}",
                    },
                )
            token, stamp = form.token, services.stamp(form, at=time.time() - 60)

        statements = [0]

        with app.app_context():
            engine = db.engine

        @event.listens_for(engine, "before_cursor_execute")
        def count(*_args):
            statements[0] += 1

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

        with app.app_context():  # warm-up: templates, statements, the job's first batch
            warm = app.test_client()
            for i in range(20):
                post(warm, -1 - i)
            processing.process_pending()

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
        statements[0] = 0
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
        for thread in threads:
            thread.start()
        start.wait()
        began, cpu_began = time.perf_counter(), time.process_time()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu_began
        total = per_thread * args.threads
        request_statements = statements[0]

        statements[0] = 0
        with app.app_context():
            job_began, job_cpu_began = time.perf_counter(), time.process_time()
            processed = processing.process_pending(seconds=3600)
            job_elapsed = time.perf_counter() - job_began
            job_cpu = time.process_time() - job_cpu_began
            job_statements = statements[0]
            leads = db.session.scalar(select(func.count(Lead.id)))
            spread = db.session.execute(
                select(Lead.assignee_id, func.count()).group_by(Lead.assignee_id)
            ).all()
            waiting = db.session.scalar(
                select(func.count(LeadSubmission.id)).where(LeadSubmission.status != "processed")
            )
            runs = db.session.scalar(select(func.count(AutomationRun.id)))
        load_after = os.getloadavg()
        rate = total / elapsed
        job_rate = processed / job_elapsed
        print(f"request path: {total} posts in {elapsed:.2f} s with {args.threads} threads")
        print(
            f"  rate: {rate:.0f} submissions/s (goal ≥ {GOAL:.0f}/s: "
            f"{'met' if rate >= GOAL else 'NOT met'}); CPU {cpu / total * 1000:.2f} ms each; "
            f"{request_statements / total:.1f} SQL statements each"
        )
        print(f"job path: {processed} submissions in {job_elapsed:.2f} s (one worker)")
        print(
            f"  rate: {job_rate:.0f} submissions/s; CPU {job_cpu / max(processed, 1) * 1000:.2f} "
            f"ms each; {job_statements / max(processed, 1):.1f} SQL statements each "
            f"(batch of {processing.BATCH_SIZE}; {args.rules} rules: {runs} rule runs written)"
        )
        print(
            f"leads: {leads}; not processed: {waiting}; "
            f"per assignee: {sorted(n for _, n in spread)}"
        )
        print(f"load average (1 min) before/after: {load_before[0]:.1f} / {load_after[0]:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
