"""Inline forward detection, one client format at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crm.inbound.forwards import find_forwards, strip_subject_prefixes
from crm.inbound.parsing import parse_message

BODY = "Can we move the kickoff to Thursday?"

FORMATS = {
    "gmail": (
        "---------- Forwarded message ---------\n"
        "From: Jane Doe <jane@northwind.example>\n"
        "Date: Mon, Jan 8, 2024 at 10:15 AM\n"
        "Subject: Kickoff\n"
        "To: Rep <rep@acme-sales.com>\n\n\n" + BODY
    ),
    "outlook_original_message": (
        "-----Original Message-----\n"
        "From: Doe, Jane [mailto:jane@northwind.example]\n"
        "Sent: Monday, January 8, 2024 10:15 AM\n"
        "To: Rep Smith\n"
        "Subject: Kickoff\n\n" + BODY
    ),
    "outlook_rule": (
        "________________________________\n"
        "From: Jane Doe <jane@northwind.example>\n"
        "Sent: Monday, January 8, 2024 10:15:00 AM\n"
        "To: rep@acme-sales.com\n"
        "Subject: Kickoff\n\n" + BODY
    ),
    "outlook_unmarked": (
        "From: jane@northwind.example <jane@northwind.example>\n"
        "Sent: Monday, January 8, 2024 10:15 AM\n"
        "To: Rep Smith <rep@acme-sales.com>\n"
        "Subject: Kickoff\n\n" + BODY
    ),
    "apple_mail": (
        "Begin forwarded message:\n\n"
        "From: Jane Doe <jane@northwind.example>\n"
        "Subject: Kickoff\n"
        "Date: 8 January 2024 at 10:15:00 GMT\n"
        "To: Rep Smith <rep@acme-sales.com>\n\n" + BODY
    ),
    "thunderbird": (
        "-------- Forwarded Message --------\n"
        "Subject: \tKickoff\n"
        "Date: \tMon, 8 Jan 2024 10:15:00 +0000\n"
        "From: \tjane@northwind.example\n"
        "To: \tRep Smith <rep@acme-sales.com>\n\n" + BODY
    ),
    "mutt": (
        "----- Forwarded message from Jane Doe <jane@northwind.example> -----\n\n"
        "Date: Mon, 8 Jan 2024 10:15:00 +0000\n"
        "From: Jane Doe <jane@northwind.example>\n"
        "To: rep@acme-sales.com\n"
        "Subject: Kickoff\n\n" + BODY + "\n\n----- End forwarded message -----"
    ),
    "quoted_gmail": (
        "> ---------- Forwarded message ---------\n"
        "> From: *Jane Doe* <jane@northwind.example>\n"
        "> Date: Mon, Jan 8, 2024 at 10:15 AM\n"
        "> Subject: Kickoff\n"
        "> To: <rep@acme-sales.com>\n"
        ">\n"
        "> " + BODY
    ),
}


@pytest.mark.parametrize("client", sorted(FORMATS))
def test_each_client_format_yields_sender_date_subject_and_body(client: str) -> None:
    split = find_forwards("FYI\n\n" + FORMATS[client], subject="Fwd: Kickoff")

    assert split.preamble == "FYI"
    [message] = split.messages
    assert message.from_ is not None and message.from_.email == "jane@northwind.example"
    assert message.date == datetime(2024, 1, 8, 10, 15, tzinfo=UTC)
    assert message.subject == "Kickoff"
    assert message.text.startswith(BODY)
    assert message.message_id is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Jane Doe <jane@northwind.example>", [("Jane Doe", "jane@northwind.example")]),
        ("Jane Doe [mailto:Jane@Northwind.example]", [("Jane Doe", "jane@northwind.example")]),
        ("jane@northwind.example", [("", "jane@northwind.example")]),
        (
            "Jane <jane@northwind.example<mailto:jane@northwind.example>>",
            [("Jane", "jane@northwind.example")],
        ),
        (
            "'Doe, Jane' <jane@northwind.example>; Bob <bob@x.example>",
            [("Doe, Jane", "jane@northwind.example"), ("Bob", "bob@x.example")],
        ),
    ],
)
def test_address_forms_in_forwarded_headers(header: str, expected: list[tuple[str, str]]) -> None:
    text = f"-----Original Message-----\nFrom: Someone\nSent: 8 Jan 2024\nTo: {header}\n\nHi"
    [message] = find_forwards(text, subject="FW: x").messages
    assert [(a.name, a.email) for a in message.to] == expected


def test_naive_forwarded_dates_use_the_forwarders_timezone() -> None:
    tz = timezone(timedelta(hours=-5))
    [message] = find_forwards(FORMATS["gmail"], assume=tz).messages
    assert message.date == datetime(2024, 1, 8, 15, 15, tzinfo=UTC)


def test_outlook_header_under_a_reply_subject_is_quoted_history_not_a_forward() -> None:
    reply = find_forwards("Sure.\n\n" + FORMATS["outlook_rule"], subject="RE: Kickoff")
    assert reply.messages == []
    # Explicit forward markers are unambiguous whatever the subject says.
    assert len(find_forwards(FORMATS["gmail"], subject="Re: Kickoff").messages) == 1


def test_a_rule_of_underscores_alone_is_not_a_forward() -> None:
    assert find_forwards("Thanks\n______________________\nAcme Inc, Main St").messages == []


def test_a_lone_from_line_is_not_a_forward() -> None:
    split = find_forwards("From: jane@northwind.example\n\nCalled her today.")
    assert split.messages == []


def test_wrapped_recipient_lines_are_joined() -> None:
    text = (
        "-----Original Message-----\nFrom: a@x.example\nSent: 8 Jan 2024 10:00\n"
        "To: One <one@x.example>; Two\n <two@x.example>\nSubject: s\n\nbody"
    )
    [message] = find_forwards(text).messages
    assert [a.email for a in message.to] == ["one@x.example", "two@x.example"]
    assert message.text == "body"


def test_forward_of_a_forward_yields_each_message_with_its_own_body() -> None:
    inner = FORMATS["thunderbird"].replace("jane@", "cfo@")
    split = find_forwards(FORMATS["gmail"] + "\n\n" + inner)
    assert [m.from_.email for m in split.messages if m.from_] == [
        "jane@northwind.example",
        "cfo@northwind.example",
    ]
    assert split.messages[0].text == BODY


def test_body_stops_where_a_quoted_forward_ends() -> None:
    text = FORMATS["quoted_gmail"] + "\n\nMy reply below the quote."
    [message] = find_forwards(text).messages
    assert message.text == BODY


def test_forwards_attached_as_messages_are_parsed_recursively() -> None:
    inner = (
        b"From: Jane <jane@northwind.example>\nTo: rep@acme-sales.com\nSubject: Inner\n"
        b"Message-ID: <inner-1@northwind.example>\nDate: Mon, 8 Jan 2024 10:15:00 +0000\n\n"
        b"Inner body\n"
    )
    raw = (
        b"From: rep@acme-sales.com\nSubject: Fwd\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nSee attached\n"
        b"--b\nContent-Type: message/rfc822\n\n" + inner + b"--b--\n"
    )
    parsed = parse_message(raw)
    [message] = parsed.forwarded
    assert message.message_id == "inner-1@northwind.example"
    assert message.subject == "Inner"
    assert message.text == "Inner body"
    assert parsed.text == "See attached"


def test_override_line_sets_override_from_and_is_removed_from_the_note() -> None:
    raw = b"From: rep@acme-sales.com\n\nFrom: Grace <GRACE@savanna.example>\nMet at the fair.\n"
    parsed = parse_message(raw)
    assert parsed.override_from is not None
    assert parsed.override_from.email == "grace@savanna.example"
    assert parsed.note == "Met at the fair."


def test_a_from_line_further_down_is_not_an_override() -> None:
    parsed = parse_message(b"From: rep@acme-sales.com\n\nHello\nFrom: grace@savanna.example\n")
    assert parsed.override_from is None
    assert parsed.note == ""


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Fwd: RE: Pricing", "Pricing"),
        ("FW: Fw: AW: Angebot", "Angebot"),
        ("Reply all", "Reply all"),
    ],
)
def test_strip_subject_prefixes(subject: str, expected: str) -> None:
    assert strip_subject_prefixes(subject) == expected
