"""Automation: what a rule adds to each change, and rule runs per second: `python
bench/automation_bench.py`.

Seeds a team, creates N contacts without rules and N with one "contact created" rule (the
subscriber writes a run row per change: the time it adds is printed), then works the runs as
the worker would (each run: claim, add a tag and create a task through the services, one effect
row per action, record the outcome).

    python bench/automation_bench.py                 # 300 contacts, temporary SQLite
    python bench/automation_bench.py -n 500 --database-url postgresql+psycopg://…
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="contacts per phase")
    parser.add_argument("--database-url", help="another database (emptied first)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rapport-automation-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    os.environ["CRM_DATA_DIR"] = str(tmp)
    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from crm import create_app
    from crm.automation import engine
    from crm.contacts import services as contacts
    from crm.extensions import db
    from crm.models import AutomationRule, AutomationRun, RunStatus
    from crm.seed.generate import ensure_team

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "CRM_DATA_DIR": str(tmp),
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
        }
    )
    try:
        with app.app_context():
            if url.startswith("postgresql"):
                with db.engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            upgrade()
            team, users = ensure_team("Bench Co", "bench password 123")

            def create(prefix: str) -> float:
                started = time.perf_counter()
                for i in range(args.n):
                    contacts.create_contact(team.id, users[0].id, {"first_name": f"{prefix} {i}"})
                return (time.perf_counter() - started) / args.n * 1000

            plain = create("Plain")
            db.session.add(
                AutomationRule(
                    team_id=team.id,
                    name="Welcome",
                    trigger="contact_created",
                    trigger_config={},
                    conditions=[{"field": "first_name", "op": "contains", "value": "ruled"}],
                    actions=[
                        {"type": "add_tag", "value": "new"},
                        {"type": "create_task", "value": "Call", "days": 2},
                    ],
                )
            )
            db.session.commit()
            ruled = create("Ruled")
            print(f"create a contact: {plain:.2f} ms without rules, {ruled:.2f} ms with one rule")
            ids = db.session.scalars(select(AutomationRun.id).order_by(AutomationRun.id)).all()
            assert len(ids) == args.n, len(ids)
            started = time.perf_counter()
            for run_id in ids:
                engine.run(run_id)
            seconds = time.perf_counter() - started
            db.session.remove()
            done = db.session.scalars(
                select(AutomationRun.id).where(AutomationRun.status == RunStatus.DONE)
            ).all()
            assert len(done) == args.n, len(done)
            print(
                f"rule runs (2 actions each): {args.n} in {seconds:.2f} s = "
                f"{args.n / seconds:,.0f}/s ({seconds / args.n * 1000:.1f} ms per run)"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
