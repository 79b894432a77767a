"""Property tests: no input makes the parser or the planner raise.

The parser has a last-resort handler that turns an unexpected exception into
an "internal error" defect; these tests fail on that defect too, so a real bug
cannot hide behind the safety net.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crm.inbound.parsing import ParsedMail, parse_message, split_quoted
from crm.inbound.routing import company_domain, parse_recipient, plan

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "mail"
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEADER_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Cc",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "Content-ID",
        "Auto-Submitted",
        "Precedence",
        "Return-Path",
        "MIME-Version",
    ]
)
TRICKY = st.sampled_from(
    [
        "=?utf-8?q?",
        "=?x-bogus?b?AAAA?=",
        "=?utf-8?b?////?=",
        "<>",
        "<<",
        '"',
        "(",
        ")",
        "@",
        ",",
        ";",
        ":",
        "\\",
        "multipart/mixed; boundary=",
        "message/rfc822",
        "text/calendar",
        "base64",
        "quoted-printable",
        "charset=",
        "filename*=UTF-8''",
        "\r\n",
        "\n ",
        "\t",
        "--",
        "> ",
        "From: ",
        "Sent: ",
        "-----Original Message-----",
        "---------- Forwarded message ---------",
        "BEGIN:VCALENDAR",
        "mailto:",
        "\udcff",
        "\x00",
    ]
)
FRAGMENT = st.one_of(TRICKY, st.text(max_size=20))
VALUE = st.lists(FRAGMENT, max_size=8).map("".join)


@st.composite
def mime_ish(draw: st.DrawFn) -> bytes:
    """Header blocks and boundary-delimited parts assembled from hostile pieces."""
    boundary = draw(st.sampled_from(["b", "==x==", "", 'b"; x']))
    lines = [f"{draw(HEADER_NAMES)}: {draw(VALUE)}" for _ in range(draw(st.integers(0, 8)))]
    subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report"]))
    lines.append(f'Content-Type: multipart/{subtype}; boundary="{boundary}"')
    lines.append("")
    for _ in range(draw(st.integers(0, 4))):
        lines.append(f"--{boundary}")
        lines += [f"{draw(HEADER_NAMES)}: {draw(VALUE)}" for _ in range(draw(st.integers(0, 3)))]
        lines += ["", draw(VALUE)]
    if draw(st.booleans()):
        lines.append(f"--{boundary}--")
    text = "\n".join(lines)
    if draw(st.booleans()):
        return text.encode("latin-1", errors="replace")
    return text.encode("utf-8", errors="surrogateescape")


def _assert_sane(parsed: ParsedMail) -> None:
    assert not [d for d in parsed.defects if d.startswith("internal error")]
    assert isinstance(parsed.text, str)
    # Everything must be storable: no lone surrogates left from raw bytes.
    for value in [parsed.text, parsed.subject, *(v for _, v in parsed.headers)]:
        value.encode("utf-8")
    result = plan(
        parsed, {"rep@acme-sales.com"}, {"boss@acme-sales.com"}, {"example.com"}, "in.rapport.test"
    )
    assert result.message_id
    split_quoted(parsed.text)


@SETTINGS
@given(st.binary(max_size=2000))
@example(b"")
@example(b"\xff\xfe\x00")
@example(b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: message/rfc822\n\n")
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    _assert_sane(parse_message(raw))


@settings(SETTINGS, max_examples=60)  # each example is costly to generate
@given(mime_ish())
def test_mime_shaped_input_never_raises(raw: bytes) -> None:
    _assert_sane(parse_message(raw))


@SETTINGS
@given(st.sampled_from(sorted(CORPUS.glob("*.eml"))), st.data())
def test_mutated_corpus_messages_never_raise(path: Path, data: st.DataObject) -> None:
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 10))):
        if not raw:
            break
        index = data.draw(st.integers(0, len(raw) - 1))
        raw[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    _assert_sane(parse_message(bytes(raw[:cut])))


@SETTINGS
@given(st.text(max_size=300))
def test_text_helpers_never_raise(text: str) -> None:
    visible, folded = split_quoted(text)
    assert (visible + folded).strip() or not text.strip()
    parse_recipient(text, "in.rapport.test")
    company_domain(text)
