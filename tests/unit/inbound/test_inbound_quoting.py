"""split_quoted: what is new in a message versus history and signature."""

from __future__ import annotations

import pytest

from crm.inbound.parsing import split_quoted

CASES = {
    "gmail_attribution_wrapped": (
        (
            "Sounds good.\n\nOn Mon, Jan 8, 2024 at 10:15 AM Jane <jane@x.example>\nwrote:\n\n"
            "> Can we meet?\n> Jane\n"
        ),
        "Sounds good.",
        "On Mon, Jan 8, 2024 at 10:15 AM Jane <jane@x.example>\nwrote:\n\n> Can we meet?\n> Jane",
    ),
    "bare_quote_at_the_end": ("Yes.\n\n> Is Tuesday ok?", "Yes.", "> Is Tuesday ok?"),
    "outlook_reply_header": (
        (
            "Done.\n\nFrom: Jane <jane@x.example>\nSent: Monday, January 8, 2024 9:00 AM\n"
            "To: Rep\nSubject: Task\n\nPlease do it."
        ),
        "Done.",
        (
            "From: Jane <jane@x.example>\nSent: Monday, January 8, 2024 9:00 AM\nTo: Rep\n"
            "Subject: Task\n\nPlease do it."
        ),
    ),
    "original_message_marker": (
        "Ok\n-----Original Message-----\nold",
        "Ok",
        "-----Original Message-----\nold",
    ),
    "signature_delimiter": ("Thanks\n\n-- \nRep\n+1 555", "Thanks", "-- \nRep\n+1 555"),
    "signature_delimiter_without_space": ("Thanks\n--\nRep", "Thanks", "--\nRep"),
    "mobile_signature": ("On my way\n\nSent from my iPhone", "On my way", "Sent from my iPhone"),
    "get_outlook": ("Ok\n\nGet Outlook for Android", "Ok", "Get Outlook for Android"),
    "german_attribution": (
        "Passt.\n\nAm 08.01.2024 um 10:15 schrieb Jana <j@x.example>:\n> Termin?",
        "Passt.",
        "Am 08.01.2024 um 10:15 schrieb Jana <j@x.example>:\n> Termin?",
    ),
    "nothing_to_fold": ("Just a note.\nTwo lines.", "Just a note.\nTwo lines.", ""),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_split_quoted(case: str) -> None:
    text, visible, folded = CASES[case]
    assert split_quoted(text) == (visible, folded)


def test_interleaved_answers_stay_visible_and_only_the_trailing_quote_folds() -> None:
    text = "On Mon, Jane wrote:\n> Price?\n$10.\n> Start date?\nMonday.\n\n> Thanks,\n> Jane"
    visible, folded = split_quoted(text)
    assert visible == "On Mon, Jane wrote:\n> Price?\n$10.\n> Start date?\nMonday."
    assert folded == "> Thanks,\n> Jane"


def test_a_message_that_is_all_quote_is_shown_whole() -> None:
    assert split_quoted("> only\n> quoted") == ("> only\n> quoted", "")
    assert split_quoted("") == ("", "")
