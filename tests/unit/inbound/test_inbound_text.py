"""Charset repair, HTML sanitising and HTML-to-text."""

from __future__ import annotations

import pytest

from crm.inbound.parsing import parse_message
from crm.inbound.text import (
    decode_bytes,
    html_to_text,
    repair_surrogates,
    sanitize_html,
)

SMART = "\u201cquoted\u201d \u20ac5 \u2013 ok"


@pytest.mark.parametrize(
    ("data", "label", "text", "repaired"),
    [
        ("café".encode("latin-1"), "iso-8859-1", "café", False),
        (SMART.encode("cp1252"), "windows-1252", SMART, False),
        # Labelled Latin-1, written in windows-1252: decoded as windows-1252.
        (SMART.encode("cp1252"), "iso-8859-1", SMART, False),
        # Labelled Latin-1 (or ASCII), really UTF-8.
        ("Grüße €".encode(), "iso-8859-1", "Grüße €", True),
        ("Grüße €".encode(), "us-ascii", "Grüße €", True),
        # Labelled UTF-8, really windows-1252.
        (SMART.encode("cp1252"), "utf-8", SMART, True),
        # Unknown and hostile labels fall back to guessing.
        ("olá".encode(), "x-made-up", "olá", True),
        (b"a\\x41", "unicode_escape", "a\\x41", False),
        (b"plain", "rot13", "plain", False),
        ("見積書".encode("iso2022_jp"), "ISO-2022-JP", "見積書", False),
        ("見積書".encode("shift_jis"), "shift_jis", "見積書", False),
        ("Привет".encode("koi8-r"), "koi8-r", "Привет", False),
        ("\ufeffhello".encode(), "utf-8", "hello", False),
        (b"no label \xe9", None, "no label é", False),
    ],
)
def test_decode_bytes(data: bytes, label: str | None, text: str, repaired: bool) -> None:
    assert decode_bytes(data, label) == (text, repaired)


def test_undecodable_bytes_still_give_text() -> None:
    # 0x81 is undefined in windows-1252 and invalid UTF-8: Latin-1 is the floor.
    text, repaired = decode_bytes(b"a\x81b\xff", "utf-8")
    assert text == "a\x81b\xff" and repaired


def test_raw_utf8_header_bytes_are_repaired() -> None:
    raw = "From: Jürgen <j@x.example>\nSubject: Grüße\n\nhi".encode()
    parsed = parse_message(raw)
    assert parsed.subject == "Grüße"
    assert parsed.from_ is not None and parsed.from_.name == "Jürgen"
    assert repair_surrogates("plain") == "plain"


def test_sanitize_html_removes_active_content_and_keeps_cid_images() -> None:
    html = (
        '<p onclick="x()">Hi<script>steal()</script><style>p{}</style>'
        '<a href="javascript:alert(1)">x</a><img src="cid:logo@acme"></p>'
    )
    clean = sanitize_html(html)
    assert "script" not in clean and "onclick" not in clean and "javascript" not in clean
    assert "p{}" not in clean
    assert '<img src="cid:logo@acme">' in clean


def test_html_to_text_keeps_structure_and_decodes_entities() -> None:
    html = (
        "<html><head><title>T</title></head><body>"
        "<h1>Quote</h1><p>Line&nbsp;one<br>line   two &amp; &euro;5</p>"
        "<ul><li>first</li><li>second</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table>"
        "<blockquote><p>quoted</p><blockquote>deeper</blockquote></blockquote>"
        "<pre>  keep\n    spacing</pre></body></html>"
    )
    assert html_to_text(html) == (
        "Quote\n\nLine one\nline two & €5\n\n- first\n- second\n\na\nb\n\n"
        "> quoted\n>\n> > deeper\n\n  keep\n    spacing"
    )


def test_html_to_text_survives_broken_markup() -> None:
    assert html_to_text("<p>unclosed <b>bold <i>italic</p></div></blockquote>tail") == (
        "unclosed bold italic\n\ntail"
    )
