"""The scaled mode: jobs through a real redis-server and RQ worker, rate limits in Redis."""

from __future__ import annotations

from crm import outbox
from crm.extensions import db
from crm.models import OutboundEmail, OutboxStatus
from crm.queue import make_worker
from tests import factories
from tests.servers import redis_url, second_app  # noqa: F401  (fixture)


def test_send_email_job_through_real_redis(app, redis_url):  # noqa: F811
    with second_app(app, REDIS_URL=redis_url) as scaled:
        with scaled.app_context():
            row = OutboundEmail(
                kind="test",
                to_addr="a@example.com",
                subject="s",
                body_text="b",
                message_id="<redis-test@example.com>",
            )
            db.session.add(row)
            db.session.commit()
            outbox.enqueue(row)
            row_id = row.id
            assert len(scaled.extensions["rq_connection"].keys("rq:queue:default")) == 1
        assert make_worker(scaled).work(burst=True, logging_level="WARNING")
        with scaled.app_context():
            assert db.session.get(OutboundEmail, row_id).status == OutboxStatus.KEPT


def test_login_rate_limit_is_kept_in_redis(app, redis_url):  # noqa: F811
    factories.make_user(email="limited@example.com")
    with second_app(app, REDIS_URL=redis_url) as scaled:
        assert scaled.config["RATELIMIT_STORAGE_URI"] == redis_url
        client = scaled.test_client()
        statuses = [
            client.post(
                "/login", data={"email": "limited@example.com", "password": "wrong wrong wrong"}
            ).status_code
            for _ in range(11)
        ]
        assert statuses[-1] == 429
        assert scaled.extensions["rq_connection"].keys("LIMITS*"), "nothing stored in Redis"
