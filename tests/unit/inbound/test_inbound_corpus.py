"""Every message in tests/fixtures/mail checked against its .json expectations.

Each expectation key has exactly one checker below; an unknown key fails the
test, so a typo in a fixture cannot silently turn an expectation off.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from crm.inbound.parsing import ParsedMail, parse_message, split_quoted
from crm.inbound.routing import SYNTHETIC_ID_DOMAIN, Plan, plan

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "mail"
USER = "rep@acme-sales.com"
TEAMMATE = "boss@acme-sales.com"
INBOUND_DOMAIN = "in.rapport.test"
NEVER_LOG = {"newsletter-platform.example", "@bulkmail.example", "legal@northwind-traders.com"}

Check = Callable[[ParsedMail, Plan, Any], None]


def _emails(addresses: list[Any]) -> list[str]:
    return [address.email for address in addresses]


def _check_calendar(parsed: ParsedMail, _: Plan, expected: dict[str, Any] | None) -> None:
    if expected is None:
        assert parsed.calendar is None
        return
    invite = parsed.calendar
    assert invite is not None
    actual = {
        "uid": invite.uid,
        "summary": invite.summary,
        "method": invite.method,
        "location": invite.location,
        "start": invite.start.isoformat() if invite.start else None,
        "end": invite.end.isoformat() if invite.end else None,
        "organizer": invite.organizer.email if invite.organizer else None,
        "attendees": _emails(invite.attendees),
    }
    assert {key: actual[key] for key in expected} == expected


def _check_date(parsed: ParsedMail, _: Plan, expected: str | None) -> None:
    assert parsed.date == (datetime.fromisoformat(expected) if expected else None)


def _check_synthetic(_: ParsedMail, result: Plan, expected: bool) -> None:
    assert result.message_id.endswith("@" + SYNTHETIC_ID_DOMAIN) is expected


CHECKS: dict[str, Check] = {
    "direction": lambda p, r, e: _eq(r.direction, e),
    "participants": lambda p, r, e: _eq(_emails(r.participants), e),
    "participant_names": lambda p, r, e: _eq([a.name for a in r.participants], e),
    "primary": lambda p, r, e: _eq(r.primary.email if r.primary else None, e),
    "sender_verified": lambda p, r, e: _eq(r.sender_verified, e),
    "ambiguous": lambda p, r, e: _eq(r.ambiguous, e),
    "reason_contains": lambda p, r, e: _contains(r.reason, e),
    "subject": lambda p, r, e: _eq(p.subject, e),
    "plan_subject": lambda p, r, e: _eq(r.subject, e),
    "text_contains": lambda p, r, e: _contains(p.text, e),
    "text_excludes": lambda p, r, e: _excludes(p.text, e),
    "plan_text_contains": lambda p, r, e: _contains(r.text, e),
    "plan_text_excludes": lambda p, r, e: _excludes(r.text, e),
    "note": lambda p, r, e: _eq(r.note, e),
    "html_contains": lambda p, r, e: _contains(p.html or "", e),
    "html_excludes": lambda p, r, e: _excludes(p.html or "", e),
    "visible_contains": lambda p, r, e: _contains(split_quoted(p.text)[0], e),
    "visible_excludes": lambda p, r, e: _excludes(split_quoted(p.text)[0], e),
    "folded_contains": lambda p, r, e: _contains(split_quoted(p.text)[1], e),
    "attachments": lambda p, r, e: _eq(len(p.attachments), e),
    "attachment_files": lambda p, r, e: _eq(
        [[a.filename, a.content_type, a.size, a.inline] for a in p.attachments], e
    ),
    "is_auto_reply": lambda p, r, e: _eq(p.is_auto_reply, e),
    "is_bounce": lambda p, r, e: _eq(p.is_bounce, e),
    "calendar": _check_calendar,
    "forwarded_count": lambda p, r, e: _eq(len(p.forwarded), e),
    "forwarded_senders": lambda p, r, e: _eq(
        [f.from_.email if f.from_ else None for f in p.forwarded], e
    ),
    "forwarded_message_ids": lambda p, r, e: _eq([f.message_id for f in p.forwarded], e),
    "forwarded_dates": lambda p, r, e: _eq(
        [f.date.isoformat() if f.date else None for f in p.forwarded], e
    ),
    "message_id": lambda p, r, e: _eq(p.message_id, e),
    "plan_message_id": lambda p, r, e: _eq(r.message_id, e),
    "synthetic_id": _check_synthetic,
    "thread_ids": lambda p, r, e: _eq(r.thread_ids, e),
    "override_from": lambda p, r, e: _eq(p.override_from.email if p.override_from else None, e),
    "date": _check_date,
    "occurred_at": lambda p, r, e: _eq(r.occurred_at.isoformat() if r.occurred_at else None, e),
    "defects": lambda p, r, e: _eq(bool(p.defects), e),
}


def _eq(actual: object, expected: object) -> None:
    assert actual == expected


def _contains(actual: str, expected: str) -> None:
    assert expected in actual


def _excludes(actual: str, forbidden: list[str]) -> None:
    assert [snippet for snippet in forbidden if snippet in actual] == []


FIXTURES = sorted(path.stem for path in CORPUS.glob("*.eml"))
REQUIRED = {"direction", "participants", "subject", "text_contains"}


def test_corpus_is_complete() -> None:
    assert len(FIXTURES) >= 32
    assert sorted(path.stem for path in CORPUS.glob("*.json")) == FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_corpus_message(name: str) -> None:
    expected = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))
    assert expected.keys() >= REQUIRED, f"{name}.json lacks {REQUIRED - expected.keys()}"
    assert expected.keys() <= CHECKS.keys(), f"unknown keys {expected.keys() - CHECKS.keys()}"
    parsed = parse_message((CORPUS / f"{name}.eml").read_bytes())
    result = plan(parsed, {USER}, {TEAMMATE}, NEVER_LOG, INBOUND_DOMAIN)
    failures = []
    for key, value in expected.items():
        try:
            CHECKS[key](parsed, result, value)
        except AssertionError as error:
            failures.append(f"{key}: {error}")
    assert failures == []
