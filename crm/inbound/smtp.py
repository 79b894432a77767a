"""The SMTP listener for email-in (aiosmtpd): refuses unknown addresses at RCPT time."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from flask import Flask

from crm.extensions import db
from crm.inbound import authresults, intake

log = logging.getLogger(__name__)


class InboundHandler:
    def __init__(self, app: Flask):
        self.app = app
        self.writer = GroupWriter(app)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        address = intake.normalized(address)
        if address in envelope.rcpt_tos:  # a repeated recipient gets the message once
            return "250 2.1.5 OK"
        if len(envelope.rcpt_tos) >= self.app.config["INBOUND_MAX_RECIPIENTS"]:
            return "452 4.5.3 Too many recipients"
        try:
            with self.app.app_context():
                known = intake.membership_for_address(address) is not None
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
        # DKIM key lookups can take seconds: in a thread, so other sessions keep going and no
        # transaction waits for DNS.
        auth = await asyncio.get_running_loop().run_in_executor(None, self._authenticate, raw)
        item = intake.Envelope(raw, list(envelope.rcpt_tos), envelope.mail_from, auth=auth)
        return await self.writer.store(item)

    def _authenticate(self, raw: bytes) -> dict:
        with self.app.app_context():
            return authresults.check(raw)


class GroupWriter:
    """Stores received mail from a thread of its own, a group per commit.

    aiosmtpd runs every session in one event loop, so a commit made in the loop stalls all
    sessions while it waits for the database. Here each DATA waits (asynchronously) for its
    group's commit; whatever arrives during a commit goes into the next one together.
    """

    MAX_GROUP = 64

    def __init__(self, app: Flask):
        self.app = app
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="email-in-writer", daemon=True)
        self._thread.start()

    async def store(self, envelope: intake.Envelope) -> str:
        loop = asyncio.get_running_loop()
        reply = loop.create_future()
        self._inbox.put((envelope, loop, reply))
        return await reply

    def stop(self, timeout: float = 10.0) -> None:
        self._inbox.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._inbox.get()
            if first is None:
                return
            group = [first]
            while len(group) < self.MAX_GROUP:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._inbox.put(None)  # stop after this group
                    break
                group.append(item)
            replies = self._store([envelope for envelope, _, _ in group])
            for (_, loop, future), reply in zip(group, replies, strict=True):
                try:
                    loop.call_soon_threadsafe(_resolve, future, reply)
                except RuntimeError:  # the listener's loop has closed: nobody is waiting
                    pass

    def _store(self, envelopes: list[intake.Envelope]) -> list[str]:
        try:
            with self.app.app_context():
                try:
                    return intake.accept_many(envelopes)
                finally:
                    db.session.remove()
        except Exception:
            log.exception("storing inbound mail failed")
            return ["451 4.3.0 Could not store the message, try again later"] * len(envelopes)


def _resolve(future: asyncio.Future, reply: str) -> None:
    if not future.done():  # the session may have gone away (client timeout)
        future.set_result(reply)


class SizedController(Controller):
    def __init__(self, app: Flask, host: str, port: int):
        self.max_bytes = app.config["INBOUND_MAX_BYTES"]
        super().__init__(InboundHandler(app), hostname=host, port=port)

    def factory(self):
        # data_size_limit makes aiosmtpd answer 552 itself for oversized mail.
        return SMTP(
            self.handler, data_size_limit=self.max_bytes, enable_SMTPUTF8=True, hostname="rapport"
        )

    def stop(self, *args, **kwargs):
        super().stop(*args, **kwargs)
        self.handler.writer.stop()


def start_listener(app: Flask) -> SizedController:
    host, _, port = app.config["SMTP_LISTEN"].rpartition(":")
    controller = SizedController(app, host or "127.0.0.1", int(port))
    controller.start()
    log.info("email-in listening on %s:%s", controller.hostname, controller.port)
    return controller
