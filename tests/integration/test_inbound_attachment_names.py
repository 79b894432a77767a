"""Attachment names from mail are stored, shown and served without tricks (issue 19, item 14)."""

from __future__ import annotations

from urllib.parse import unquote

import flask
from sqlalchemy import select

from crm.extensions import db
from crm.inbound import intake, queries
from crm.models import Activity, ActivityKind, EmailAttachment
from tests import factories
from tests.integration.test_inbound_processing import mail

TRICK = "nul\u202egpj.exe"  # shows as "nulexe.jpg" where bidi overrides are honoured


def test_a_bidi_override_in_an_attachment_name_is_removed_where_it_is_stored_and_shown(
    app, owner, run_jobs, tmp_path
):
    app.config["CRM_DATA_DIR"] = str(tmp_path)
    intake.accept(
        mail(frm=owner.email, attachments=[(TRICK, b"MZ not a picture")]),
        envelope_to=f"{owner.inbound_token}@in.rapport.test",
        envelope_from=None,
        via="smtp",
    )
    run_jobs()
    row = db.session.scalars(select(EmailAttachment)).one()
    assert row.filename == "nulgpj.exe"

    activity = db.session.scalars(select(Activity).where(Activity.kind == ActivityKind.EMAIL)).one()
    with app.test_request_context():
        from flask_login import login_user

        login_user(owner)
        html = flask.render_template(
            "inbound/_email_entry.html",
            activity=activity,
            email=queries.emails_for_activities([activity])[activity.id],
        )
    assert "nulgpj.exe" in html and "\u202e" not in html


def test_a_name_stored_before_the_fix_is_served_and_shown_clean(app, logged_in, owner):
    row = factories.make_email_attachment(factories.team_of(owner), filename=TRICK)
    response = logged_in.get(f"/attachments/{row.id}")
    assert response.status_code == 200
    disposition = unquote(response.headers["Content-Disposition"])
    assert "nulgpj.exe" in disposition and "\u202e" not in disposition
    with app.test_request_context():
        assert flask.render_template_string("{{ n|filename }}", n=row.filename) == "nulgpj.exe"
