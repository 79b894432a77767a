"""Webhook deliveries per second to a receiver on loopback: `python bench/webhooks_bench.py`.

Seeds a team with one webhook, creates N contacts through the contact service (each commit
writes a delivery row through the events subscriber; the time this adds per change is printed),
then sends them three times: one delivery at a time (claim, POST, record: two commits each;
what a change of one record costs), as the worker's jobs of a burst (a job per change; the
first takes the backlog in batches, the rest find their rows sent), and in claimed batches
(`deliver_due`, what the sweep and a bulk change do: one UPDATE … RETURNING to claim, one
commit for the outcomes). All reuse one keep-alive connection per host. The receiver runs in
its own process, as a real one would.
Goal: >= 200 deliveries/s.

It also counts the SQL statements a change runs: in its own transaction (the change, its
audit and timeline rows, the event_outbox row) and after its commit (the fan-out: webhooks and
automation rules of the team, the record for the payload, the delivery rows, marking the event
published) — a count that does not depend on how loaded the machine is.

    python -m bench.webhooks_bench                 # 1,000 deliveries, temporary SQLite
    python bench/webhooks_bench.py -n 2000 --database-url postgresql+psycopg://…
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_PER_SECOND = 200


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real receivers behind a proxy do
    count = None  # a multiprocessing.Value shared with the bench

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with Handler.count.get_lock():
            Handler.count.value += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(port, count) -> None:
    Handler.count = count
    ThreadingHTTPServer(("127.0.0.1", port.value), Handler).serve_forever()


def start_receiver():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = multiprocessing.Value("i", probe.getsockname()[1])
    count = multiprocessing.Value("i", 0)
    process = multiprocessing.Process(target=serve, args=(port, count), daemon=True)
    process.start()
    for _ in range(500):  # wait until it listens
        try:
            socket.create_connection(("127.0.0.1", port.value), timeout=1).close()
            break
        except OSError:
            time.sleep(0.01)
    return process, port.value, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="deliveries")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--database-url", help="another database (emptied first)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rapport-webhooks-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    os.environ["CRM_DATA_DIR"] = str(tmp)
    from flask_migrate import upgrade
    from sqlalchemy import event, func, select, text, update

    from crm import create_app
    from crm.contacts import services as contacts
    from crm.extensions import db
    from crm.kernel import events
    from crm.models import DeliveryStatus, WebhookDelivery
    from crm.seed.generate import ensure_team
    from crm.webhooks import delivery, services
    from jobs import webhooks as webhook_jobs

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "CRM_DATA_DIR": str(tmp),
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
            "WEBHOOKS_ALLOW_PRIVATE": True,
        }
    )
    receiver, port, count = start_receiver()
    try:
        with app.app_context():
            if url.startswith("postgresql"):
                with db.engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            upgrade()
            team, users = ensure_team("Bench Co", "bench password 123")
            hook, _ = services.create_webhook(
                team.id,
                users[0].id,
                url=f"http://127.0.0.1:{port}/hook",
                events=["contact.created"],
            )
            seen = {"all": 0, "after": 0}
            event.listen(
                db.engine,
                "before_cursor_execute",
                lambda *a, **k: seen.__setitem__("all", seen["all"] + 1),
            )
            real_publish = events.publish_committed

            def counted_publish(evs):
                before = seen["all"]
                try:
                    return real_publish(evs)
                finally:
                    seen["after"] += seen["all"] - before

            events.publish_committed = counted_publish
            started = time.perf_counter()
            for i in range(args.n):
                contacts.create_contact(team.id, users[0].id, {"first_name": f"Person {i}"})
            with_rows = time.perf_counter() - started
            events.publish_committed = real_publish
            print(
                f"statements per change: {(seen['all'] - seen['after']) / args.n:.1f} in its "
                f"transaction, {seen['after'] / args.n:.1f} after its commit (fan-out)"
            )
            db.session.remove()
            ids = db.session.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id)).all()
            assert len(ids) == args.n, f"{len(ids)} delivery rows for {args.n} changes"
            print(
                f"{args.n} contacts created, each writing its delivery row: "
                f"{with_rows / args.n * 1000:.2f} ms per change (create + fan-out)"
            )

            started = time.perf_counter()
            for delivery_id in ids:
                delivery.deliver(delivery_id)  # one delivery claimed, sent and recorded alone
            one_by_one = time.perf_counter() - started

            db.session.execute(
                update(WebhookDelivery).values(status=DeliveryStatus.PENDING, attempts=0)
            )
            db.session.commit()
            started = time.perf_counter()
            for delivery_id in ids:
                # What the worker runs for a burst: a job per change, the first drains the rest.
                webhook_jobs.deliver([delivery_id])
            as_jobs = time.perf_counter() - started

            db.session.execute(
                update(WebhookDelivery).values(status=DeliveryStatus.PENDING, attempts=0)
            )
            db.session.commit()
            started = time.perf_counter()
            while delivery.deliver_due(limit=args.batch):
                pass
            batched = time.perf_counter() - started
            delivered = db.session.scalar(
                select(func.count()).where(WebhookDelivery.status == DeliveryStatus.DELIVERED)
            )
            assert delivered == args.n and count.value == 3 * args.n, (delivered, count.value)
        for name, seconds in (
            ("one delivery at a time", one_by_one),
            ("a job per change", as_jobs),
            ("batches", batched),
        ):
            rate = args.n / seconds
            verdict = "ok" if rate >= TARGET_PER_SECOND else "BELOW GOAL"
            print(
                f"{name:>22}: {args.n} deliveries in {seconds:.2f} s = {rate:,.0f}/s "
                f"(goal >= {TARGET_PER_SECOND}/s: {verdict})"
            )
    finally:
        receiver.terminate()
        receiver.join()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
