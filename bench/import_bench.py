"""CSV import speed: a generated file of N contacts imported through the real job.

    /work/main/.venv/bin/python bench/import_bench.py [--rows 10000] [--existing 0]

A temporary SQLite database built by the migrations; one team; a CSV with a name, an email, a
phone, a company (one of 300) and tags per row; `imports.runner.run` called directly (what the
RQ job does), so the time is the import itself: parsing, duplicate checks, writing each row in a
savepoint through the contacts services, progress commits. Prints wall and CPU time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_csv(rows: int, seed: int = 7) -> bytes:
    from crm.seed.words import FIRST, LAST, TAGS

    rng = random.Random(seed)
    lines = ["First name,Last name,Email,Phone,Company,Tags"]
    for i in range(rows):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        phone = f"+1415{rng.randrange(2_000_000, 9_999_999)}"
        tags = ";".join(rng.sample(TAGS, rng.choice((0, 1, 2))))
        lines.append(
            f"{first},{last},{first.lower()}.{last.lower()}.{i}@example.com,{phone},"
            f"Company {rng.randrange(300)},{tags}"
        )
    return ("\r\n".join(lines) + "\r\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--dry-run", action="store_true", help="time the dry run instead")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rapport-import-bench-"))
    os.environ["CRM_DATA_DIR"] = str(tmp)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from flask_migrate import upgrade

    from crm import create_app
    from crm.auth import services as accounts
    from crm.extensions import db
    from crm.imports import runner, services
    from crm.models import ImportJob

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
            "CRM_DATA_DIR": str(tmp),
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
        }
    )
    try:
        with app.app_context():
            upgrade()
            user = accounts.signup(
                name="Bench", email="bench@example.com", password="x" * 12, team_name="Bench"
            )
            raw = make_csv(args.rows)
            job = services.create_import(user.last_team_id, user.id, "bench.csv", raw)
            services.start(job, job.mapping, "skip", args.dry_run)
            job_id = job.id
        with app.app_context():
            start, cpu = time.perf_counter(), time.process_time()
            runner.run(job_id)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            job = db.session.get(ImportJob, job_id)
            counts = (job.created_count, job.updated_count, job.skipped_count, job.error_count)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        kind = "dry run" if args.dry_run else "import"
        print(
            f"{kind} of {args.rows:,} rows (created, updated, skipped, errors = {counts}): "
            f"{wall:.1f} s wall, {cpu:.1f} s CPU, {args.rows / wall:,.0f} rows/s "
            f"(load average {load} on {os.cpu_count()} CPUs)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
