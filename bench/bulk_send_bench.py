"""Bulk email: N rendered mails queued, then delivered to an SMTP server on loopback.

Standalone: a temporary SQLite database built by the migrations (or --database-url for an
empty PostgreSQL database), a team with N tagged contacts, aiosmtpd as the receiving server on a
free port. Times bulk.start() (render + outbox rows + timeline entries, one transaction) and
then the delivery job (batches of rows over one SMTP connection per batch), from K worker
threads. Prints the numbers; goals: queued in ≤ 5 s, delivered at ≥ 100 mails/s.

    python bench/bulk_send_bench.py [N] [--workers K] [--database-url URL]
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER = """
import sys, time
from aiosmtpd.controller import Controller

class Counter:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        Counter.count += 1
        return "250 OK"

c = Controller(Counter(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
for line in sys.stdin:
    print(Counter.count, time.process_time(), flush=True)
c.stop()
"""


class Server:
    """aiosmtpd in its own process, so receiving does not share this process's GIL."""

    def __init__(self):
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def read(self) -> tuple[int, float]:
        """Messages received so far, and the CPU seconds the server process has used."""
        self.process.stdin.write("?\n")
        self.process.stdin.flush()
        count, cpu = self.process.stdout.readline().split()
        return int(count), float(cpu)

    @property
    def count(self) -> int:
        return self.read()[0]

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)


class Counts:
    """What a phase costs in work, not wall time: calls of the built-in compile() (Jinja turns
    every template it compiles into Python code through it) and SQL statements sent (an
    executemany counts once; its rows are counted apart)."""

    def __init__(self):
        self.compiles = self.statements = self.rows = 0

    @contextlib.contextmanager
    def watch(self, engine):
        from sqlalchemy import event

        real_compile = builtins.compile

        def counting_compile(*args, **kwargs):
            self.compiles += 1
            return real_compile(*args, **kwargs)

        def on_execute(conn, cursor, statement, parameters, context, executemany):
            self.statements += 1
            self.rows += len(parameters) if executemany else 1

        builtins.compile = counting_compile
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            yield self
        finally:
            builtins.compile = real_compile
            event.remove(engine, "before_cursor_execute", on_execute)

    def per(self, n: int) -> str:
        n = max(n, 1)
        return (
            f"{self.compiles / n:.2f} compile() calls, {self.statements / n:.3f} statements"
            f" ({self.statements} in all, {self.rows} parameter rows) per mail"
        )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("n", nargs="?", type=int, default=2000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--database-url")
    args = p.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="rapport-bulk-bench-"))
    os.environ["CRM_DATA_DIR"] = str(data_dir)
    from flask_migrate import upgrade

    from crm import create_app
    from crm.auth.services import signup
    from crm.contacts.queries import ContactFilters
    from crm.extensions import db
    from crm.kernel import tags
    from crm.models import Contact, ContactEmail, OutboundEmail, OutboxStatus, User
    from crm.outbound import bulk

    inbox = Server()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.database_url or f"sqlite:///{data_dir / 'bench.db'}",
            "CRM_DATA_DIR": str(data_dir),
            "SECRET_KEY": "bench",
            "BASE_URL": "http://localhost",
            "INBOUND_DOMAIN": "in.bench.test",
            "REDIS_URL": None,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": inbox.port,
            "MAIL_USE_TLS": False,
            # The rate limit is the team's choice; here every row is due at once.
            "OUTBOUND_RATE_PER_MINUTE": 10_000_000,
        }
    )
    try:
        with app.app_context():
            upgrade()
            user = signup(name="Rep", email="rep@acme.example", password="x" * 12, team_name="A")
            team = user.memberships[0].team
            (tag,) = tags.find_or_create(team.id, ["newsletter"])
            for i in range(args.n):
                contact = Contact(
                    team_id=team.id, first_name=f"P{i}", last_name="Bench", sort_name=f"p{i}"
                )
                contact.emails = [ContactEmail(team_id=team.id, email=f"p{i}@client.example")]
                contact.tags = [tag]
                db.session.add(contact)
            db.session.commit()
            user = db.session.get(User, user.id)

            queue_counts = Counts()
            with app.test_request_context(), queue_counts.watch(db.engine):
                started, cpu_started = time.perf_counter(), time.process_time()
                sent = bulk.start(
                    team=team,
                    author=user,
                    filters=ContactFilters(tag=tag.id),
                    label="Tagged newsletter",
                    subject="News for {{ contact.first_name }}",
                    body='Hi {{ contact.first_name | default("there") }},\n\n**New** prices.',
                )
                queued_s = time.perf_counter() - started
                queued_cpu = time.process_time() - cpu_started
            bulk_id = sent.id
            rows = db.session.query(OutboundEmail).count()
        print(
            f"queued: {rows} mails in {queued_s:.2f} s (goal ≤ 5 s);"
            f" {queued_cpu:.2f} s of CPU in this process"
        )
        print(f"queued: {queue_counts.per(rows)}")

        cpu = []

        def work():
            started = time.thread_time()
            with app.app_context():
                bulk.deliver(bulk_id)
                db.session.remove()
            cpu.append(time.thread_time() - started)

        with app.app_context():
            engine = db.engine
        deliver_counts = Counts()
        server_cpu_before = inbox.read()[1]
        started = time.perf_counter()
        watching = deliver_counts.watch(engine)
        watching.__enter__()
        threads = [threading.Thread(target=work) for _ in range(args.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        delivered_s = time.perf_counter() - started
        watching.__exit__(None, None, None)
        with app.app_context():
            done = (
                db.session.query(OutboundEmail)
                .filter(OutboundEmail.status == OutboxStatus.SENT)
                .count()
            )
        received, server_cpu = inbox.read()
        server_cpu -= server_cpu_before
        print(
            f"delivered: {received} mails received ({done} marked sent) in {delivered_s:.2f} s"
            f" = {received / delivered_s:.0f} mails/s with {args.workers} worker(s)"
            " (goal ≥ 100 mails/s)"
        )
        print(f"delivered: {deliver_counts.per(received)}")
        print(
            f"delivered: the receiving server used {server_cpu:.2f} s of CPU"
            f" ({1000 * server_cpu / max(received, 1):.2f} ms per mail)"
        )
        print(
            f"delivered: {sum(cpu):.2f} s of CPU in the worker thread(s) ="
            f" {1000 * sum(cpu) / max(received, 1):.2f} ms per mail"
            f" ({received / max(sum(cpu), 1e-9):.0f} mails per CPU-second; the receiving server"
            " runs in its own process)"
        )
        print(f"load average while running: {os.getloadavg()[0]:.1f} (2 shared cores)")
    finally:
        inbox.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
