"""Files attached to a composed mail: limits shown on the field, kept in the one attachment
store, sent as MIME parts (same parts and Message-ID on a retry), downloadable from the
timeline by the team only."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.kernel import attachments
from crm.models import EmailAttachment, EmailMessage, OutboundEmail, OutboxStatus, utcnow
from crm.sweeps import run_sweeps
from tests.integration import test_outbound
from tests.integration.test_outbound import _jane, _parsed
from tests.servers import free_port

smtp_server = test_outbound.smtp_server  # the receiving server, aiosmtpd on loopback

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40
CSV = "name,amount\nÅsa,12\n".encode()


def _send(client, contact, files, **data):
    form = {"to": [contact.id], "sender": "me", "subject": "Prices", "body": "Attached."}
    form |= data
    form["attachments"] = [(io.BytesIO(content), name, kind) for name, content, kind in files]
    return client.post(
        f"/contacts/{contact.id}/email", data=form, content_type="multipart/form-data"
    )


def test_attached_files_are_delivered_as_parts_and_listed_on_the_timeline(
    logged_in,
    owner,
    smtp_server,
    run_jobs,
):
    jane = _jane(owner)
    response = _send(
        logged_in,
        jane,
        [
            ("Price list.pdf", PDF, "application/pdf"),
            ("../../etc/q3\u202egpj.csv", CSV, "text/csv"),
        ],
    )
    assert response.status_code == 303
    run_jobs()

    (envelope,) = smtp_server.messages
    message = _parsed(envelope)
    assert message.get_content_type() == "multipart/mixed"
    parts = list(message.iter_attachments())
    assert [p.get_filename() for p in parts] == ["Price list.pdf", "q3gpj.csv"]
    assert [p.get_content_type() for p in parts] == ["application/pdf", "text/csv"]
    assert parts[0].get_content() == PDF
    assert parts[1].get_payload(decode=True) == CSV
    assert "Attached." in message.get_body(("plain",)).get_content()

    logged = db.session.scalars(select(EmailMessage)).one()
    files = db.session.scalars(
        select(EmailAttachment).where(EmailAttachment.email_message_id == logged.id)
    ).all()
    assert [(f.filename, f.size) for f in files] == [
        ("Price list.pdf", len(PDF)),
        ("q3gpj.csv", len(CSV)),
    ]
    page = logged_in.get(f"/contacts/{jane.id}").data.decode()
    links = re.findall(r'href="(/attachments/\d+)"[^>]*>([^<]+)<', page)
    assert [name for _, name in links] == ["Price list.pdf", "q3gpj.csv"]
    download = logged_in.get(links[0][0])
    assert download.status_code == 200 and download.data == PDF


def test_a_retry_sends_the_same_parts_with_the_same_message_id(
    app,
    logged_in,
    owner,
    smtp_server,
    run_jobs,
):
    jane = _jane(owner)
    working_port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = free_port()  # nobody listens here
    _send(logged_in, jane, [("Price list.pdf", PDF, "application/pdf")])
    run_jobs()
    row = db.session.scalars(select(OutboundEmail)).one()
    db.session.refresh(row)
    assert row.status == OutboxStatus.PENDING and row.attempts == 1

    app.config["MAIL_PORT"] = working_port
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    run_sweeps()
    run_jobs()
    (envelope,) = smtp_server.messages
    message = _parsed(envelope)
    assert message["Message-ID"] == row.message_id
    (part,) = message.iter_attachments()
    assert part.get_filename() == "Price list.pdf" and part.get_content() == PDF


def test_a_file_missing_from_the_store_fails_the_mail_with_the_reason(
    app,
    logged_in,
    owner,
    smtp_server,
    run_jobs,
):
    jane = _jane(owner)
    _send(logged_in, jane, [("Price list.pdf", PDF, "application/pdf")])
    row = db.session.scalars(select(OutboundEmail)).one()
    attachments.path(row.team_id, row.attachments[0]["sha256"]).unlink()
    run_jobs()
    db.session.refresh(row)
    assert row.status == OutboxStatus.FAILED and "Price list.pdf" in row.last_error
    assert not smtp_server.messages


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("big.pdf", b"x" * 3000, "application/pdf")], "big.pdf is 2 KB; each file may be"),
        (
            [("a.pdf", b"x" * 1800, "application/pdf"), ("b.pdf", b"y" * 1800, None)],
            "The files come to 3 KB; one mail may carry at most 3 KB",
        ),
    ],
)
def test_files_over_the_limits_are_refused_on_the_field(app, logged_in, owner, files, message):
    app.config.update(OUTBOUND_MAX_ATTACHMENT_BYTES=2048, OUTBOUND_MAX_ATTACHMENTS_BYTES=3072)
    jane = _jane(owner)
    response = _send(logged_in, jane, files)
    assert response.status_code == 422
    page = response.data.decode()
    assert message in page
    assert re.search(r'id="attachments-error"', page)
    assert db.session.scalars(select(OutboundEmail)).all() == []
    assert db.session.scalars(select(EmailMessage)).all() == []


def test_the_compose_form_has_a_labelled_file_input_and_states_the_limits(logged_in, owner):
    jane = _jane(owner)
    page = logged_in.get(f"/contacts/{jane.id}/email").data.decode()
    assert 'enctype="multipart/form-data"' in page
    assert '<label for="attachments">Attach files</label>' in page
    assert 'type="file"' in page and "multiple" in page
    assert "Each file up to 10 MB, 20 MB in all." in page


def test_a_type_the_browser_made_up_is_replaced_by_a_guess_from_the_name(
    logged_in,
    owner,
    smtp_server,
    run_jobs,
):
    jane = _jane(owner)
    _send(logged_in, jane, [("notes.txt", b"hello", "bogus"), ("blob", b"\0\1", "multipart/x")])
    run_jobs()
    parts = list(_parsed(smtp_server.messages[0]).iter_attachments())
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/octet-stream"]
