"""parse_recipient, plan and company_domain."""

from __future__ import annotations

import pytest

from crm.inbound.parsing import parse_message
from crm.inbound.routing import (
    FREE_MAIL_DOMAINS,
    SYNTHETIC_ID_DOMAIN,
    Recipient,
    company_domain,
    parse_recipient,
    plan,
)

DOMAIN = "in.rapport.test"
USER = {"rep@acme-sales.com"}
TEAM = {"boss@acme-sales.com"}


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("k3x9q2m7@in.rapport.test", Recipient("k3x9q2m7", None, None)),
        ("k3x9q2m7+task@in.rapport.test", Recipient("k3x9q2m7", "task", None)),
        ("k3x9q2m7+deal-42@in.rapport.test", Recipient("k3x9q2m7", "deal", 42)),
        ("K3X9Q2M7+Deal-42@IN.Rapport.TEST.", Recipient("k3x9q2m7", "deal", 42)),
        (" <k3x9q2m7@in.rapport.test> ", Recipient("k3x9q2m7", None, None)),
        ("k3x9q2m7@other.test", None),
        ("k3x9q2m7@sub.in.rapport.test", None),
        ("short7@in.rapport.test", None),
        ("k3x9q2m7k3x9q2m7k3x9q2m7k3x9q2m7x@in.rapport.test", None),
        ("k3x9-q2m7@in.rapport.test", None),
        ("k3x9q2m7+deal@in.rapport.test", None),
        ("k3x9q2m7+deal-abc@in.rapport.test", None),
        ("k3x9q2m7+deal-0@in.rapport.test", None),
        ("k3x9q2m7+task-5@in.rapport.test", None),
        ("k3x9q2m7+unknown@in.rapport.test", None),
        ("k3x9q2m7", None),
        ("", None),
    ],
)
def test_parse_recipient(address: str, expected: Recipient | None) -> None:
    assert parse_recipient(address, DOMAIN) == expected


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("jane@Northwind-Traders.com", "northwind-traders.com"),
        ("a@eu.bigcorp.example.", "eu.bigcorp.example"),
        ("someone@gmail.com", None),
        ("someone@GMX.de", None),
        ("someone@yandex.ru", None),
        ("not-an-address", None),
        ("@nolocal.example", None),
        ("x@localhost", None),
    ],
)
def test_company_domain(email: str, expected: str | None) -> None:
    assert company_domain(email) == expected


def test_free_mail_list_covers_the_big_providers() -> None:
    big = {
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
        "aol.com",
        "proton.me",
        "web.de",
        "mail.ru",
        "gmx.net",
        "yandex.com",
        "qq.com",
    }
    assert big <= FREE_MAIL_DOMAINS


def _mail(headers: str, body: str = "Hello") -> bytes:
    return f"{headers}\nDate: Mon, 8 Jan 2024 10:00:00 +0000\n\n{body}\n".encode()


def test_plan_excludes_user_teammates_never_log_role_and_inbound_addresses() -> None:
    parsed = parse_message(
        _mail(
            "From: rep@acme-sales.com\n"
            "To: Jane <jane@client.example>, REP@acme-sales.com, boss@acme-sales.com\n"
            "Cc: legal@client.example, x@vendor.example, y@mail.vendor.example,"
            " k3x9q2m7@in.rapport.test, no-reply@client.example, jane@client.example"
        )
    )
    result = plan(parsed, USER, TEAM, {"legal@client.example", "@vendor.example"}, DOMAIN)
    assert [a.email for a in result.participants] == ["jane@client.example"]
    assert result.direction == "outgoing" and result.sender_verified
    assert not result.ambiguous


def test_plan_bare_domain_never_log_entry() -> None:
    parsed = parse_message(_mail("From: rep@acme-sales.com\nTo: a@vendor.example, b@c.example"))
    result = plan(parsed, USER, TEAM, {"vendor.example"}, DOMAIN)
    assert [a.email for a in result.participants] == ["b@c.example"]


def test_plan_internal_only_mail_is_ambiguous() -> None:
    parsed = parse_message(_mail("From: rep@acme-sales.com\nTo: boss@acme-sales.com"))
    result = plan(parsed, USER, TEAM, set(), DOMAIN)
    assert result.participants == [] and result.primary is None
    assert result.ambiguous and result.reason


FORWARD = (
    "---------- Forwarded message ---------\n"
    "From: {sender}\nDate: Mon, Jan 8, 2024 at 9:00 AM\nSubject: Pricing\n"
    "To: {to}\n\n{body}"
)


def _forward(sender: str, to: str, body: str = "What does it cost?") -> bytes:
    return _mail(
        "From: rep@acme-sales.com\nTo: k3x9q2m7@in.rapport.test\nSubject: Fwd: Pricing",
        FORWARD.format(sender=sender, to=to, body=body),
    )


def test_forward_logs_on_the_original_sender_and_recipients() -> None:
    raw = _forward("Jane <jane@client.example>", "rep@acme-sales.com, b@client.example")
    parsed = parse_message(raw)
    result = plan(parsed, USER, TEAM, set(), DOMAIN)
    assert result.direction == "incoming"
    assert [a.email for a in result.participants] == ["jane@client.example", "b@client.example"]
    assert result.primary is not None and result.primary.email == "jane@client.example"
    assert result.subject == "Pricing" and result.text == "What does it cost?"
    assert result.thread_ids == []


def test_forwarding_your_own_sent_mail_is_outgoing() -> None:
    parsed = parse_message(_forward("Rep <rep@acme-sales.com>", "jane@client.example"))
    result = plan(parsed, USER, TEAM, set(), DOMAIN)
    assert result.direction == "outgoing"
    assert [a.email for a in result.participants] == ["jane@client.example"]


def test_forward_sent_on_to_a_customer_is_outgoing_to_that_customer() -> None:
    raw = _forward("jane@client.example", "rep@acme-sales.com").replace(
        b"To: k3x9q2m7@in.rapport.test", b"To: partner@reseller.example"
    )
    result = plan(parse_message(raw), USER, TEAM, set(), DOMAIN)
    assert result.direction == "outgoing"
    assert [a.email for a in result.participants] == ["partner@reseller.example"]


def test_reforwarding_the_same_inline_message_gives_the_same_synthetic_id() -> None:
    first = plan(
        parse_message(_forward("jane@client.example", "rep@acme-sales.com", "What does it\ncost?")),
        USER,
        TEAM,
        set(),
        DOMAIN,
    )
    again = plan(
        parse_message(
            _forward("Jane <jane@client.example>", "rep@acme-sales.com", "What does it cost?  ")
        ),
        USER,
        TEAM,
        set(),
        DOMAIN,
    )
    other = plan(
        parse_message(_forward("jane@client.example", "rep@acme-sales.com", "Something else")),
        USER,
        TEAM,
        set(),
        DOMAIN,
    )
    assert first.message_id == again.message_id
    assert first.message_id.endswith("@" + SYNTHETIC_ID_DOMAIN)
    assert other.message_id != first.message_id


def test_override_beats_the_forwarded_sender() -> None:
    raw = _forward("boss@acme-sales.com", "rep@acme-sales.com").replace(
        b"\n\n----------", b"\n\nFrom: grace@savanna.example\n\n----------"
    )
    result = plan(parse_message(raw), USER, TEAM, set(), DOMAIN)
    assert result.direction == "incoming"
    assert [a.email for a in result.participants] == ["grace@savanna.example"]


def test_override_naming_an_excluded_address_is_ambiguous() -> None:
    raw = _mail(
        "From: rep@acme-sales.com\nTo: k3x9q2m7@in.rapport.test", "From: boss@acme-sales.com\nnote"
    )
    result = plan(parse_message(raw), USER, TEAM, set(), DOMAIN)
    assert result.participants == [] and result.ambiguous


def test_unverified_sender_to_someone_else_is_ambiguous() -> None:
    parsed = parse_message(_mail("From: mallory@evil.example\nTo: jane@client.example"))
    result = plan(parsed, USER, TEAM, set(), DOMAIN)
    assert not result.sender_verified and result.ambiguous
    assert result.direction == "incoming"
