"""The scaled mode's queue: jobs through a real redis-server and RQ worker."""

from __future__ import annotations

from crm import create_app, outbox
from crm.extensions import db
from crm.models import OutboundEmail, OutboxStatus
from crm.queue import make_worker
from tests.servers import redis_url  # noqa: F401  (fixture)


def test_send_email_job_through_real_redis(app, database_url, redis_url):  # noqa: F811
    scaled = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "MAIL_SERVER": None,
            "SECRET_KEY": "x",
            "CRM_DATA_DIR": app.config["CRM_DATA_DIR"],
        }
    )
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
        assert scaled.extensions["rq_connection"].ping()
    worker = make_worker(scaled)
    assert worker.work(burst=True, logging_level="WARNING")
    with scaled.app_context():
        assert db.session.get(OutboundEmail, row_id).status == OutboxStatus.KEPT
        db.session.remove()
    scaled.extensions["sqlalchemy"].engines[None].dispose()
