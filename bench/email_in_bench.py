"""Email-in throughput: SMTP accept → stored → processed → timeline entry.

Standalone: a temporary SQLite database built by the migrations, a team with 1,000 contacts,
the SMTP listener on a free port, N varied messages sent through smtplib from 2 threads while
`crm serve`'s worker thread processes them. Prints messages per second.

    python bench/email_in_bench.py [N] [--scaled] [--senders K] [--reuse DIR]
                                   [--database-url URL] [--profile]

--database-url URL runs on that (empty, PostgreSQL) database instead of a SQLite file.
--batch B: messages per processing transaction (INBOUND_BATCH_SIZE, default 25).
--senders K: concurrent SMTP sessions (default 2). --reuse DIR keeps the seeded database and
search index in DIR and starts later runs from a copy of it. --profile: cProfile of the main
thread (little, since the work happens in the listener and worker threads).

--scaled runs the scaled deployment instead: redis-server on a free port and two
`flask crm worker` processes (one per core), the listener in this process.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARGS = [
    a
    for i, a in enumerate(sys.argv[1:], 1)
    if a.isdigit() and sys.argv[i - 1] not in ("--senders", "--reuse", "--database-url", "--batch")
][:1]
N = int(ARGS[0]) if ARGS else 1000
SCALED = "--scaled" in sys.argv
WORKERS = 2
ROOT = Path(__file__).resolve().parents[1]
CONTACTS = 1000


def _option(name: str, default: int) -> int:
    for i, arg in enumerate(sys.argv):
        if arg == name and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if arg.startswith(name + "="):
            return int(arg.split("=", 1)[1])
    return default


# Concurrent SMTP sessions: each waits for its 250 before sending the next message, so with
# few of them the test measures the reply latency rather than what the server can take.
SENDERS = _option("--senders", 2)


def _text_option(name: str) -> str | None:
    for i, arg in enumerate(sys.argv):
        if arg == name and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
    return None


# --database-url postgresql+psycopg://…: an empty database of its own (its schema is dropped).
DATABASE_URL = _text_option("--database-url")


def database_url(data_dir: Path) -> str:
    return DATABASE_URL or f"sqlite:///{data_dir / 'bench.db'}"


def _reset_postgres() -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(DATABASE_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _reuse_dir() -> Path | None:
    for i, arg in enumerate(sys.argv):
        if arg == "--reuse" and i + 1 < len(sys.argv):
            return Path(sys.argv[i + 1])
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_app(data_dir: Path, redis_url: str | None = None):
    os.environ["CRM_DATA_DIR"] = str(data_dir)
    from flask_migrate import upgrade

    from crm import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url(data_dir),
            "CRM_DATA_DIR": str(data_dir),
            "SECRET_KEY": "bench",
            "INBOUND_DOMAIN": "in.bench.test",
            "SMTP_LISTEN": f"127.0.0.1:{free_port()}",
            "REDIS_URL": redis_url,
            "MAIL_SERVER": None,
            "INBOUND_BATCH_SIZE": _option("--batch", 25),
        }
    )
    with app.app_context():
        upgrade()
    return app


def start_scaled(data_dir: Path) -> tuple[str, list[subprocess.Popen]]:
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return f"redis://127.0.0.1:{port}/0", [redis]


def start_workers(data_dir: Path, redis_url: str) -> list[subprocess.Popen]:
    env = dict(
        os.environ,
        CRM_DATA_DIR=str(data_dir),
        DATABASE_URL=database_url(data_dir),
        REDIS_URL=redis_url,
        INBOUND_DOMAIN="in.bench.test",
        SECRET_KEY="bench",
        INBOUND_BATCH_SIZE=str(_option("--batch", 25)),
    )
    flask = str(Path(sys.executable).with_name("flask"))
    return [
        subprocess.Popen(
            [flask, "--app", "app", "crm", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(WORKERS)
    ]


THREAD_NAMES: dict[int, str] = {}


def threads_cpu() -> dict[str, float]:
    """CPU seconds per thread of this process (Linux /proc), by thread name."""
    THREAD_NAMES.update({t.native_id: t.name for t in threading.enumerate()})
    names = THREAD_NAMES
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(task.name), "other")
        name = name.rstrip("0123456789").rstrip("-_") if name.startswith("Thread") else name
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def process_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by these processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def seed(app):
    from crm.auth.services import signup
    from crm.extensions import db
    from crm.models import Contact, ContactEmail

    with app.app_context():
        user = signup(name="Rep", email="rep@acme-sales.com", password="x" * 12, team_name="Acme")
        team_id = user.last_team_id
        emails = []
        for i in range(CONTACTS):
            email = f"person{i}@client{i % 50}.example"
            contact = Contact(
                team_id=team_id, first_name=f"P{i}", last_name="Bench", sort_name=f"p{i} bench"
            )
            contact.emails = [ContactEmail(team_id=team_id, email=email)]
            db.session.add(contact)
            emails.append(email)
        db.session.commit()
        return user.inbound_token, emails


def messages(emails: list[str], n: int) -> list[bytes]:
    """A mix: BCC'd outgoing mail, replies in threads, forwards, attachments, new people."""
    rng = random.Random(42)
    out = []
    for i in range(n):
        msg = EmailMessage()
        msg["Message-ID"] = f"<bench-{i}@acme-sales.com>"
        msg["Date"] = "Mon, 15 Jan 2024 10:00:00 +0000"
        kind = i % 5
        to = rng.sample(emails, rng.randint(1, 3))
        if kind == 4:
            to.append(f"new{i}@prospect{i % 30}.example")
        msg["From"] = "Rep <rep@acme-sales.com>"
        if kind == 2:  # a forward of mail the rep received
            msg["To"] = "rep@acme-sales.com"
            msg["Subject"] = f"Fwd: Question {i}"
            msg.set_content(
                "FYI\n\n---------- Forwarded message ---------\n"
                f"From: Someone <{to[0]}>\nDate: Mon, 15 Jan 2024 at 09:00\n"
                f"Subject: Question {i}\nTo: Rep <rep@acme-sales.com>\n\n"
                f"Could you send the quote for item {i}?\n"
            )
        else:
            msg["To"] = ", ".join(to)
            msg["Subject"] = f"Re: Proposal {i // 10}" if kind == 1 else f"Proposal {i}"
            if kind == 1 and i >= 10:
                msg["In-Reply-To"] = f"<bench-{i - 5}@acme-sales.com>"
            msg.set_content(
                f"Hello,\n\nHere is update {i}.\n\nBest,\nRep\n\n"
                f"On Mon, Jan 15, 2024, someone wrote:\n> earlier text {i}\n"
            )
            if kind == 3:
                msg.add_attachment(
                    (b"%PDF-1.4 " + bytes(str(i % 7), "ascii")) * 2000,
                    maintype="application",
                    subtype="pdf",
                    filename=f"quote-{i % 7}.pdf",
                )
        out.append(msg.as_bytes(policy=SMTP))
    return out


CHILDREN: list[subprocess.Popen] = []


def main() -> None:
    try:
        run()
    finally:
        for child in CHILDREN:  # never leave redis or workers behind, even after an error
            if child.poll() is None:
                child.terminate()
                child.wait()


def run() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    reuse = None if DATABASE_URL else _reuse_dir()
    if DATABASE_URL:
        _reset_postgres()
    if reuse is not None and (reuse / "bench.db").exists():
        # A seeded database and index from an earlier run: every run starts from a copy.
        shutil.copytree(reuse, data_dir, dirs_exist_ok=True)
    redis_url, children = start_scaled(data_dir) if SCALED else (None, [])
    CHILDREN.extend(children)
    app = build_app(data_dir, redis_url)
    from crm.queue import run_pending

    if (data_dir / "seed.json").exists():
        token, emails = json.loads((data_dir / "seed.json").read_text())
    else:
        token, emails = seed(app)
        while run_pending(app):  # index the seeded contacts now: not part of the measurement
            pass
        (data_dir / "seed.json").write_text(json.dumps([token, emails]))
        if reuse is not None:
            shutil.copytree(data_dir, reuse, dirs_exist_ok=True)
    if SCALED:
        children += start_workers(data_dir, redis_url)
        CHILDREN.extend(children)
        time.sleep(3)  # workers import the app
    raw = messages(emails, N)
    from crm.inbound.smtp import start_listener

    listener = start_listener(app)
    rcpt = f"{token}@in.bench.test"
    # Exactly what `crm serve` runs: the worker thread (polls the queue every 0.5 s, so under
    # load a drain job finds a batch waiting) and the scheduler tick.
    from crm.queue import EmbeddedRunner

    runner = EmbeddedRunner(app)

    sender_cpu: dict[str, float] = {}

    def send(chunk: list[bytes]):
        with smtplib.SMTP(listener.hostname, listener.port) as smtp:
            for data in chunk:
                smtp.sendmail("rep@acme-sales.com", [rcpt], data)
        sender_cpu[threading.current_thread().name] = time.thread_time()

    profile = None
    if "--profile" in sys.argv:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    started = time.perf_counter()
    cpu_started = time.process_time()
    if not SCALED:
        runner.start()
    threads = [
        threading.Thread(target=send, args=(raw[i::SENDERS],), name=f"smtp-client-{i}")
        for i in range(SENDERS)
    ]
    for t in threads:
        t.start()
    cpu_start = threads_cpu()
    worker_pids = [c.pid for c in children if "worker" in " ".join(map(str, c.args))]
    workers_start = process_cpu(worker_pids)
    for t in threads:
        t.join()
    accepted = time.perf_counter() - started

    from sqlalchemy import func, select

    from crm.extensions import db
    from crm.models import Activity, InboundMessage, InboundStatus
    from crm.queue import queue

    with app.app_context():
        while True:
            left = db.session.scalar(
                select(func.count(InboundMessage.id)).where(
                    InboundMessage.status.in_((InboundStatus.RECEIVED, InboundStatus.PROCESSING))
                )
            )
            db.session.remove()
            if not left:
                break
            time.sleep(0.05)
        done = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        cpu_at_done = threads_cpu()
        workers_at_done = process_cpu(worker_pids) - workers_start
        # The search queue is worked after the default queue: wait for it to catch up too.
        indexed = None
        while any(len(q) for q in (queue("default", app), queue("search", app))):
            time.sleep(0.05)
        indexed = time.perf_counter() - started
        cpu_end = threads_cpu()
        workers_end = process_cpu(worker_pids) - workers_start
        if not SCALED:
            runner.stop()
        statuses = dict(
            db.session.execute(
                select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
            ).all()
        )
        latencies = [
            (processed - created).total_seconds()
            for created, processed in db.session.execute(
                select(InboundMessage.created_at, InboundMessage.processed_at)
            ).all()
        ]
        activities = db.session.scalar(select(func.count(Activity.id)))
    listener.stop()
    for child in children:
        child.terminate()
        child.wait()
    mode = f"scaled: redis + {WORKERS} worker processes" if SCALED else "embedded: 1 worker thread"
    db_name = "PostgreSQL" if DATABASE_URL else "SQLite"
    print(f"messages: {N} from {SENDERS} SMTP threads; {CONTACTS} contacts; {db_name}; {mode}")
    print(f"SMTP accept (stored raw + enqueued): {N / accepted:7.1f} msg/s ({accepted:.1f} s)")
    print(f"accept → timeline entry, end to end: {N / done:7.1f} msg/s ({done:.1f} s)")
    print(
        f"per-message latency accept → processed: p50 {statistics.median(latencies):.2f} s, "
        f"p95 {statistics.quantiles(latencies, n=20)[-1]:.2f} s"
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"CPU of this process: {cpu:.1f} s ({cpu / N * 1000:.1f} ms/msg); load average {load}")
    clients = sum(sender_cpu.values())
    cpu_end["smtp clients (bench)"] = cpu_at_done["smtp clients (bench)"] = clients
    print("  CPU s by thread: until the last message was processed (until the index caught up)")
    for name in sorted(cpu_end, key=lambda k: -cpu_end[k]):
        used = cpu_end[name] - cpu_start.get(name, 0.0)
        if used > 0.05 and not name.startswith("smtp-client"):
            at_done = cpu_at_done.get(name, 0.0) - cpu_start.get(name, 0.0)
            print(f"    {name:<28} {at_done:6.1f} ({used:.1f})")
    if SCALED:
        print(
            f"  CPU s of the {WORKERS} worker processes: {workers_at_done:.1f} "
            f"({workers_end:.1f}); all processes: {(cpu + workers_at_done) / N * 1000:.1f} ms/msg"
        )
    if indexed is not None:
        print(f"search queue empty at {indexed:.1f} s (workers take search jobs last)")
    if profile is not None:
        import pstats

        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    print(f"outcomes: { {k.value: v for k, v in statuses.items()} }; activities: {activities}")


if __name__ == "__main__":
    main()
