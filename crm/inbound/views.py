"""Email-in pages: attachment downloads, the review queue, the inbound log, never-log, address.

The inbound log and never-log list are admin tabs of the settings blueprint; the review queue
is for every member (their own held mail; admins see everyone's).
"""

from __future__ import annotations

from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from crm.extensions import db
from crm.htmx import hx_redirect, is_htmx, render, trigger
from crm.inbound import authresults, bp, filing, processing, queries, settings_bp
from crm.inbound.forms import ConfirmForm, FileForm, NeverLogForm
from crm.inbound.text import sanitize_html
from crm.kernel import members
from crm.kernel.filenames import clean_filename
from crm.models import (
    Contact,
    EmailAttachment,
    EmailMessage,
    InboundMessage,
    InboundStatus,
    Membership,
    NeverLog,
    new_token,
)
from crm.security import admin_required, current_membership, current_team, get_or_404, scoped

# Types a browser would run or render as a page: always served as a download of bytes.
SAFE_INLINE = frozenset()


def _is_admin() -> bool:
    return members.can_manage(current_membership())


# --- Attachments --------------------------------------------------------------------------------


@bp.get("/attachments/<id:attachment_id>")
def attachment(attachment_id: int):
    row = get_or_404(EmailAttachment, attachment_id)
    path = filing.attachment_path(row.team_id, row.sha256)
    if not row.stored or not path.exists():
        abort(404)
    response = send_file(
        path,
        # Never let a browser render mail content from our origin (HTML, SVG, …).
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=clean_filename(row.filename),  # rows stored before names were cleaned
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- The formatted (HTML) part of a logged email ------------------------------------------------

# The frame's own policy: a sandbox (no scripts, no forms, an opaque origin, so no cookies or
# requests as the user), nothing fetched from anywhere (remote images and tracking pixels stay
# unloaded), and framed only by our own pages.
FRAME_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src data:; "
    "style-src {origin}/static/css/; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)


@bp.get("/emails/<id:email_message_id>/formatted")
def formatted(email_message_id: int):
    """The sanitized HTML of a logged email, for a sandboxed <iframe> on the timeline."""
    email = get_or_404(EmailMessage, email_message_id)
    if not email.html:
        abort(404)
    # Sanitized when stored; cleaned again here so an older row or a changed rule is covered.
    response = make_response(
        render_template("inbound/formatted.html", email=email, html=sanitize_html(email.html))
    )
    # Named by URL: in the sandbox's opaque origin 'self' would match nothing.
    response.headers["Content-Security-Policy"] = FRAME_CSP.format(
        origin=request.host_url.rstrip("/")
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- Review queue -------------------------------------------------------------------------------


def _held_or_404(inbound_id: int) -> InboundMessage:
    """A held message the current member may act on: their own, or anyone's for admins."""
    message = get_or_404(InboundMessage, inbound_id)
    if message.user_id != current_user.id and not _is_admin():
        abort(404)
    return message


@bp.get("/inbound/review")
def review():
    everyone = _is_admin()
    before = request.args.get("before")
    rows, next_before = queries.review_page(
        current_team().id, None if everyone else current_user.id, before
    )
    return render(
        "inbound/review.html",
        "inbound/_review_items.html",
        rows=rows,
        next_before=next_before,
        everyone=everyone,
        parse=_preview,
    )


def _preview(message: InboundMessage):
    from crm.inbound.parsing import parse_message, split_quoted

    parsed = parse_message(message.raw)
    visible, _ = split_quoted(parsed.text or "")
    return parsed, visible.strip()[:2000]


@bp.get("/inbound/messages/<id:inbound_id>/contacts")
def contact_picker(inbound_id: int):
    message = _held_or_404(inbound_id)
    q = request.args.get("q", "")
    contacts = queries.search_contacts(current_team().id, q)
    return render_template("inbound/_contact_results.html", message=message, contacts=contacts, q=q)


@bp.post("/inbound/messages/<id:inbound_id>/file")
def file_message(inbound_id: int):
    message = _held_or_404(inbound_id)
    form = FileForm()
    if not form.validate_on_submit():
        abort(422)
    contact = get_or_404(Contact, form.contact_id.data)
    if message.status not in processing.RETRYABLE:
        abort(409)
    processing.file_on_contact(message, contact, current_user)
    if is_htmx():
        response = render(
            "inbound/review.html", "inbound/_review_done.html", message=message, contact=contact
        )
        return trigger(response, "inbound-filed", {"id": message.id, "contact_id": contact.id})
    flash(f"Filed on {contact.name}.", "success")
    return redirect(url_for("inbound.review"), 303)


@bp.post("/inbound/messages/<id:inbound_id>/discard")
def discard_message(inbound_id: int):
    message = _held_or_404(inbound_id)
    processing.discard(message, current_user)
    if is_htmx():
        response = render(
            "inbound/review.html", "inbound/_review_done.html", message=message, contact=None
        )
        return trigger(response, "inbound-discarded", {"id": message.id})
    flash("Discarded.", "success")
    return redirect(url_for("inbound.review"), 303)


# --- Settings: the inbound log, retry, never-log ------------------------------------------------


@settings_bp.get("/inbound")
@admin_required
def inbound_log():
    status = request.args.get("status") or None
    if status and status not in {s.value for s in InboundStatus}:
        status = None
    rows, next_before = queries.log_page(current_team().id, status, request.args.get("before"))
    return render(
        "settings/inbound_log.html",
        "settings/_inbound_rows.html",
        rows=rows,
        next_before=next_before,
        status=status,
        statuses=[s.value for s in InboundStatus],
        never_log=_never_log_rows(),
        form=NeverLogForm(),
    )


@settings_bp.get("/inbound/<id:inbound_id>")
@admin_required
def inbound_show(inbound_id: int):
    message = get_or_404(InboundMessage, inbound_id)
    from crm.inbound.parsing import parse_message

    parsed = parse_message(message.raw)
    return render_template(
        "settings/inbound_show.html",
        message=message,
        parsed=parsed,
        retryable=message.status in processing.RETRYABLE,
        form=ConfirmForm(),
    )


@settings_bp.post("/inbound/<id:inbound_id>/retry")
@admin_required
def inbound_retry(inbound_id: int):
    message = get_or_404(InboundMessage, inbound_id)
    if message.status not in processing.RETRYABLE:
        abort(409)
    processing.retry(message)
    flash("Queued again: the log shows the outcome in a moment.", "success")
    response = hx_redirect(url_for("settings_inbound.inbound_show", inbound_id=message.id))
    return trigger(response, "inbound-retried", {"id": message.id})


def _never_log_rows() -> list[NeverLog]:
    return list(db.session.scalars(scoped(NeverLog).order_by(NeverLog.pattern)).all())


@settings_bp.post("/inbound/never-log")
@admin_required
def never_log_add():
    form = NeverLogForm()
    if form.validate_on_submit():
        pattern = (
            form.pattern.data.lstrip("@")
            if form.pattern.data.count("@") == 1 and form.pattern.data.startswith("@")
            else form.pattern.data
        )
        exists = db.session.scalar(scoped(NeverLog).where(NeverLog.pattern == pattern))
        if exists is None:
            db.session.add(NeverLog(team_id=current_team().id, pattern=pattern))
            db.session.commit()
        if not is_htmx():
            return redirect(url_for("settings_inbound.inbound_log"), 303)
        form = NeverLogForm(formdata=None)
        response = render(
            "settings/inbound_log.html",
            "settings/_never_log.html",
            never_log=_never_log_rows(),
            form=form,
        )
        return trigger(response, "never-log-changed")
    status = 422
    if not is_htmx():
        rows, next_before = queries.log_page(current_team().id, None, None)
        return render_template(
            "settings/inbound_log.html",
            rows=rows,
            next_before=next_before,
            status=None,
            statuses=[s.value for s in InboundStatus],
            never_log=_never_log_rows(),
            form=form,
        ), status
    return render_template(
        "settings/_never_log.html", never_log=_never_log_rows(), form=form
    ), status


@settings_bp.post("/inbound/never-log/<id:never_log_id>/delete")
@admin_required
def never_log_delete(never_log_id: int):
    row = get_or_404(NeverLog, never_log_id)
    db.session.delete(row)
    db.session.commit()
    if not is_htmx():
        return redirect(url_for("settings_inbound.inbound_log"), 303)
    response = render(
        "settings/inbound_log.html",
        "settings/_never_log.html",
        never_log=_never_log_rows(),
        form=NeverLogForm(formdata=None),
    )
    return trigger(response, "never-log-changed")


# --- Profile: a new personal address ------------------------------------------------------------


@settings_bp.post("/inbound-address")
def regenerate_address():
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    membership = current_membership()  # the address of this team only
    while True:
        token = new_token()
        clash = db.session.scalar(select(Membership.id).where(Membership.inbound_token == token))
        if clash is None:
            break
    membership.inbound_token = token
    db.session.commit()
    flash("Your email-in address changed. Mail to the old one is now refused.", "success")
    return hx_redirect(url_for("settings.profile") + "#email-in")


@bp.app_template_filter("sender_auth")
def sender_auth_filter(auth: dict | None) -> str:
    """The SPF/DKIM/DMARC verdicts of a received message, in words."""
    return authresults.summary(auth)


@bp.app_template_filter("filename")
def filename_filter(value: str | None) -> str:
    """An attachment's name as shown: the same cleaning as when it is stored and served."""
    return clean_filename(value)


@bp.app_context_processor
def email_entry_context():
    return {
        "inbound_email_for": queries.email_for_activity,
        # A timeline page loads all its emails at once (two queries), not one per entry.
        "inbound_emails_for": queries.emails_for_activities,
    }
