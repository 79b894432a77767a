"""The SMTP listener for email-in (aiosmtpd): refuses unknown addresses at RCPT time."""

from __future__ import annotations

import logging

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from flask import Flask

from crm.extensions import db
from crm.inbound import intake

log = logging.getLogger(__name__)


class InboundHandler:
    def __init__(self, app: Flask):
        self.app = app

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        try:
            with self.app.app_context():
                known = intake.user_for_address(address) is not None
                db.session.remove()
        except Exception:
            log.exception("RCPT lookup failed")
            return "451 4.3.0 Temporary failure, try again later"
        if not known:
            return "550 5.1.1 No such Rapport address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        stored = 0
        try:
            with self.app.app_context():
                for rcpt in envelope.rcpt_tos:
                    intake.accept(
                        raw, envelope_to=rcpt, envelope_from=envelope.mail_from, via="smtp"
                    )
                    stored += 1
                db.session.remove()
        except intake.Rejected as error:
            return f"{error.code} {error.message}"
        except Exception:
            log.exception("storing inbound mail failed")
            if stored:
                return "250 2.0.0 Accepted for some recipients"
            return "451 4.3.0 Could not store the message, try again later"
        return "250 2.0.0 Message accepted"


class SizedController(Controller):
    def __init__(self, app: Flask, host: str, port: int):
        self.max_bytes = app.config["INBOUND_MAX_BYTES"]
        super().__init__(InboundHandler(app), hostname=host, port=port)

    def factory(self):
        # data_size_limit makes aiosmtpd answer 552 itself for oversized mail.
        return SMTP(
            self.handler, data_size_limit=self.max_bytes, enable_SMTPUTF8=True, hostname="rapport"
        )


def start_listener(app: Flask) -> SizedController:
    host, _, port = app.config["SMTP_LISTEN"].rpartition(":")
    controller = SizedController(app, host or "127.0.0.1", int(port))
    controller.start()
    log.info("email-in listening on %s:%s", controller.hostname, controller.port)
    return controller
