"""Sender authentication: trusted Authentication-Results, and DKIM checked with a test key."""

from __future__ import annotations

import pytest

from crm.inbound import authresults
from tests.dkimkeys import make_signer

RAW = (
    b"From: Olive <olive@acme.example>\r\nTo: Dana <dana@client.example>\r\n"
    b"Subject: Terms\r\nDate: Mon, 15 Jan 2024 10:00:00 +0000\r\n"
    b"Message-ID: <t1@acme.example>\r\n\r\nTen seats, net 30.\r\n"
)
PASSING = (
    b"Authentication-Results: mx.rapport.example; spf=pass smtp.mailfrom=acme.example;"
    b" dkim=pass (2048-bit key) header.d=acme.example header.s=s1; dmarc=pass"
    b" header.from=acme.example\r\n"
)


@pytest.fixture(scope="module")
def signer():
    return make_signer()


def test_a_trusted_servers_verdicts_are_recorded():
    found = authresults.verdicts(PASSING + RAW, trusted_ids=["mx.rapport.example"])
    assert (found["spf"], found["dkim"], found["dmarc"]) == ("pass", "pass", "pass")
    assert found["passed"] and found["source"] == "header mx.rapport.example"


def test_a_header_from_any_other_server_is_a_senders_claim_and_ignored():
    forged = PASSING.replace(b"mx.rapport.example", b"mx.evil.example")
    found = authresults.verdicts(forged + RAW, trusted_ids=["mx.rapport.example"])
    assert "dkim" not in found and not found["passed"] and found["source"] is None
    assert not authresults.verdicts(PASSING + RAW)["passed"]  # nothing configured: no trust


def test_the_topmost_trusted_header_wins_over_one_the_sender_added_below():
    ours = b"Authentication-Results: mx.rapport.example; dkim=fail; dmarc=fail\r\n"
    found = authresults.verdicts(ours + PASSING + RAW, trusted_ids=["mx.rapport.example"])
    assert (found["dkim"], found["dmarc"]) == ("fail", "fail") and not found["passed"]


def test_dkim_passes_only_for_the_from_domain():
    other = PASSING.replace(b"header.d=acme.example", b"header.d=evil.example").replace(
        b"dmarc=pass", b"dmarc=fail"
    )
    found = authresults.verdicts(other + RAW, trusted_ids=["mx.rapport.example"])
    assert found["dkim"] == "pass" and not found["passed"]


def test_spf_alone_never_vouches_for_the_from_header():
    spf_only = b"Authentication-Results: mx.rapport.example; spf=pass smtp.mailfrom=x.example\r\n"
    assert not authresults.verdicts(spf_only + RAW, trusted_ids=["mx.rapport.example"])["passed"]


@pytest.mark.parametrize(
    "value",
    [
        "mx.rapport.example 1; dkim=pass (good (nested) comment) header.i=@acme.example",
        "mx.rapport.example;\r\n\tdkim=fail header.d=other.example;\r\n"
        " dkim=pass header.d=acme.example",
    ],
)
def test_header_syntax_variants(value):
    authserv_id, results = authresults.parse(value)
    assert authserv_id == "mx.rapport.example"
    assert results["dkim"]["result"] == "pass" and "acme.example" in results["dkim"]["domains"]


def test_a_signature_checked_here_passes_with_the_published_key(signer):
    found = authresults.verdicts(signer.sign(RAW, "acme.example"), dnsfunc=signer.dns)
    assert found["dkim"] == "pass" and found["passed"] and found["source"] == "dkim check"


def test_a_changed_message_or_another_domains_signature_does_not_pass(signer):
    signed = signer.sign(RAW, "acme.example")
    tampered = signed.replace(b"Ten seats", b"Ninety seats")
    assert not authresults.verdicts(tampered, dnsfunc=signer.dns)["passed"]
    forged_from = signer.sign(
        RAW.replace(b"olive@acme.example", b"ceo@bank.example"), "evil.example"
    )
    found = authresults.verdicts(forged_from, dnsfunc=signer.dns)
    assert found["dkim"] == "pass" and not found["passed"]


def test_an_unreachable_key_is_a_temporary_error_not_a_pass(signer):
    def no_dns(name, timeout=5):
        raise TimeoutError("no DNS here")

    found = authresults.verdicts(signer.sign(RAW, "acme.example"), dnsfunc=no_dns)
    assert found["dkim"] == "temperror" and not found["passed"]


def test_unsigned_mail_has_no_verdicts():
    found = authresults.verdicts(RAW, dnsfunc=lambda name, timeout=5: None)
    assert found == {"source": None, "from_domain": "acme.example", "passed": False}
