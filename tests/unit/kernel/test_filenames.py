"""clean_filename: what a user sees and downloads is the file's real name and extension."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.kernel.filenames import clean_filename


@pytest.mark.parametrize(
    ("given_name", "shown"),
    [
        ("nul\u202egpj.exe", "nulgpj.exe"),  # right-to-left override: would show "nulexe.jpg"
        ("invoice\u2067fdp.exe\u2069", "invoicefdp.exe"),  # isolates
        ("a\u200bb\u200d.pdf", "ab.pdf"),  # zero-width space and joiner
        ("\ufeffreport.pdf", "report.pdf"),  # byte order mark
        ("x\x00y\r\nz.txt", "xy z.txt"),
        ("C:\\Users\\olive\\Desktop\\quote.pdf", "quote.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..", "attachment"),
        (".hidden", "hidden"),
        ("  many   spaces .pdf ", "many spaces .pdf"),
        ("line\u2028break.txt", "line break.txt"),
        ("", "attachment"),
        (None, "attachment"),
        ("Angebot für Müller.pdf", "Angebot für Müller.pdf"),
        ("見積書.pdf", "見積書.pdf"),
    ],
)
def test_names_lose_what_hides_or_fakes_the_real_name(given_name, shown):
    assert clean_filename(given_name) == shown


def test_a_long_name_keeps_its_extension():
    cleaned = clean_filename("a" * 400 + ".exe")
    assert len(cleaned) == 255 and cleaned.endswith(".exe")


@given(st.text(max_size=600))
def test_any_name_comes_out_safe(name):
    cleaned = clean_filename(name)
    assert 0 < len(cleaned) <= 255
    assert "/" not in cleaned and "\\" not in cleaned and not cleaned.startswith(".")
    assert not any(unicodedata.category(ch)[0] == "C" for ch in cleaned)
    assert clean_filename(cleaned) == cleaned
