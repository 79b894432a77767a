"""crm.kernel.csvio: the one CSV writer (formula-safe, streamed, UTF-8 with BOM) and reader
(encodings spreadsheets save, delimiter sniffing)."""

from __future__ import annotations

import codecs
import csv
import io

import pytest

from crm.kernel import csvio

# --- Writing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        (" =1+1", "' =1+1"),
        ("  +1", "'  +1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\tplain", "'\tplain"),
        ("\r=1", "'\r=1"),
        ("\n =1", "'\n =1"),
        # A phone number runs nothing: other tools read it as it is, not as '+14155550134.
        ("+14155550134", "+14155550134"),
        ("+4930123456", "+4930123456"),
        ("+1 415-555-0134", "+1 415-555-0134"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        # Anything more than digits, spaces and dashes after the + is still a formula.
        ("+1+1", "'+1+1"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("+14155550134+cmd|'/C calc'!A0", "'+14155550134+cmd|'/C calc'!A0"),
        ("+1-1", "'+1-1"),  # too few digits for a phone: arithmetic
        ("+1234567890123456", "'+1234567890123456"),  # more digits than any phone
        ("+1415555013-", "'+1415555013-"),
        (" +14155550134", "' +14155550134"),
        ("-4155550134", "'-4155550134"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (42, "42"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(value, written):
    assert csvio.safe_cell(value) == written


def _parse(chunks) -> list[list[str]]:
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_write_rows_streams_utf8_with_bom_in_chunks_and_guards_the_header_too():
    rows = [[f"row {n}", "=1+1", "Müller"] for n in range(7)]
    chunks = list(csvio.write_rows(["name", "=cmd", "city"], rows, chunk_rows=3))
    assert len(chunks) == 3  # rows 1-3, 4-6, then 7 with nothing after it
    parsed = _parse(chunks)
    assert parsed[0] == ["name", "'=cmd", "city"]
    assert parsed[1] == ["row 0", "'=1+1", "Müller"]
    assert len(parsed) == 8
    assert "".join(chunks).encode("utf-8").startswith(codecs.BOM_UTF8)


def test_write_rows_keeps_quotes_commas_and_newlines_inside_their_cell():
    parsed = _parse(csvio.write_rows(["a", "b"], [['say "hi", then', "two\nlines"]]))
    assert parsed[1] == ['say "hi", then', "two\nlines"]


# --- Reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        ("\ufeffname,city\nJosé,Köln\n".encode(), "utf-8"),
        ("name,city\nJosé,Köln\n".encode(), "utf-8"),
        ("name,city\nJosé,Köln – “quoted”\n".encode("cp1252"), "cp1252"),
        (b"name,city\nJos\xe9,\x81K\xf6ln\n", "latin-1"),
        ("name\tcity\nJosé\tKöln\n".encode("utf-16"), "utf-16"),  # Excel's "Unicode text"
        ("name,city\nJosé,Köln\n".encode("utf-16-le"), "utf-16"),
        ("name,city\nJosé,Köln\n".encode("utf-16-be"), "utf-16"),
    ],
)
def test_decode_handles_spreadsheet_encodings(raw, encoding):
    text, found = csvio.decode(raw)
    assert found == encoding
    assert "José" in text and "Köln" in text and not text.startswith("\ufeff")


def test_decode_refuses_binary_files():
    with pytest.raises(csvio.Unreadable):
        csvio.decode(b"PK\x03\x04\x00\x00binary")


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a;b;c\n1;2;3\n", ";"),
        ("a,b,c\n1,2,3\n", ","),
        ("a\tb\n1\t2\n", "\t"),
        ("a|b\n1|2\n", "|"),
        ("single\nrow\n", ","),
    ],
)
def test_sniff_delimiter(text, delimiter):
    assert csvio.sniff_delimiter(text) == delimiter


def test_read_counts_rows_as_a_spreadsheet_shows_them():
    header, rows = csvio.read('name;note\r\nAnn;"two\r\nlines"\r\n\r\nBob;x\r\n', ";")
    assert header == ["name", "note"]
    assert rows == [(2, ["Ann", "two\r\nlines"]), (4, ["Bob", "x"])]


def test_read_of_an_empty_file_is_unreadable():
    with pytest.raises(csvio.Unreadable):
        csvio.read("\n\n", ",")


def test_a_utf16_upload_is_imported(team_owner):
    from crm.imports import services

    team, owner = team_owner
    raw = "First name\tEmail\nZoë\tzoe@example.com\n".encode("utf-16")
    job = services.create_import(team.id, owner.id, "unicode.txt", raw)
    assert (job.encoding, job.delimiter, job.total_rows) == ("utf-16", "\t", 1)
    assert job.mapping == {"0": "first_name", "1": "email"}


@pytest.fixture
def team_owner(owner):
    from tests import factories

    return factories.team_of(owner), owner
