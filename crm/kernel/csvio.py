"""CSV in and out, once for the whole app.

Writing: `write_rows(header, rows)` yields CSV text in chunks (for a streaming response), UTF-8
with a BOM so spreadsheets read accents, and every cell a spreadsheet would run as a formula
(=, +, -, @, tab, CR — also after leading spaces) written as text, except a phone number
(`+` and 7–15 digits with spaces or dashes), which runs nothing and which every other tool must
read as it is. `csv_response()` wraps that
in a download. Every CSV the app writes goes through here.

Reading: `decode()` takes the bytes a spreadsheet saved (UTF-8 with or without BOM, UTF-16 with
a BOM or without, Windows-1252), `sniff_delimiter()` finds , ; tab or |, and `rows()` / `read()`
give the records with the line numbers a spreadsheet shows.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator

from flask import Response, stream_with_context

from crm.kernel.filenames import content_disposition

BOM = "\ufeff"
DELIMITERS = ",;\t|"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# "+1 415-555-0134": digits, spaces and dashes only can name no function, cell or command, so
# quoting it would only corrupt the number for every tool that reads the file.
PHONE = re.compile(r"\+[0-9][0-9 -]*[0-9]")
CHUNK_ROWS = 500


# --- Writing ----------------------------------------------------------------------------------


def safe_cell(value: object) -> str:
    """The cell as text a spreadsheet shows and never runs (CSV injection): a leading quote
    before anything that starts, or starts after spaces, like a formula — but a phone number
    (`+` and 7–15 digits, spaces and dashes only) is data, written as it is."""
    text = "" if value is None else str(value)
    if is_phone(text):
        return text
    if text.startswith(FORMULA_STARTS) or text.lstrip().startswith(FORMULA_STARTS[:4]):
        return "'" + text
    return text


def is_phone(text: str) -> bool:
    """`+` then digits, spaces and dashes only, 7 to 15 digits (E.164's longest)."""
    return bool(PHONE.fullmatch(text)) and 7 <= sum(c in "0123456789" for c in text) <= 15


def write_rows(
    header: Iterable[object], rows: Iterable[Iterable[object]], *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[str]:
    """CSV text in chunks, UTF-8 with BOM; a cell that a spreadsheet would run as a formula
    (=, +, -, @, tab, CR — also after leading spaces) is written as text; a phone number as is."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write(BOM)
    writer.writerow([safe_cell(v) for v in header])
    for n, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(v) for v in row])
        if n % chunk_rows == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def csv_response(filename: str, header: Iterable[object], rows: Iterable[Iterable[object]]):
    """A streamed download of `write_rows(header, rows)` (rows may query the database lazily)."""
    return Response(
        stream_with_context(write_rows(header, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": content_disposition(filename)},
    )


# --- Reading ----------------------------------------------------------------------------------


class Unreadable(ValueError):
    """The upload is not a CSV file we can read; the message is safe to show."""


def _utf16(raw: bytes) -> str | None:
    """The UTF-16 codec of `raw` (Excel's "Unicode text"), by its BOM or its zero bytes."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = raw[:4096]
    if len(sample) < 4 or len(sample) % 2:
        return None
    # Text that is mostly ASCII has a zero in every other byte, and nowhere else.
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > len(odd) * 0.8 and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) > len(even) * 0.8 and odd.count(0) == 0:
        return "utf-16-be"
    return None


def decode(raw: bytes) -> tuple[str, str]:
    """The text (without BOM) and the encoding it was in: UTF-16, UTF-8, else Windows-1252.

    Windows-1252 is what Excel writes on most Western machines; it is a superset of Latin-1's
    printable range, and Latin-1 catches the five bytes cp1252 leaves undefined.
    """
    if utf16 := _utf16(raw):
        try:
            return raw.decode(utf16).removeprefix(BOM), "utf-16"
        except UnicodeDecodeError:
            raise Unreadable("The file's UTF-16 text is damaged.") from None
    if b"\x00" in raw[:4096]:
        raise Unreadable("That file looks binary. Save it as CSV and retry.")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, "utf-8" if encoding == "utf-8-sig" else encoding
    raise Unreadable("The file's text encoding is unknown.")  # pragma: no cover (latin-1)


def sniff_delimiter(text: str) -> str:
    """The separator of the first lines: , ; tab or | (a comma when nothing tells)."""
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = next((line for line in text.splitlines() if line.strip()), "")
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(row_number, cells) for every non-blank record; row 1 is the header line's record.

    Quoted newlines stay inside their cell; blank lines are skipped but still counted, so the
    numbers match what a spreadsheet shows.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for number, cells in enumerate(reader, start=1):
        if any(cell.strip() for cell in cells):
            yield number, cells


def read(text: str, delimiter: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data rows."""
    records = rows(text, delimiter)
    header_row = next(records, None)
    if header_row is None:
        raise Unreadable("The file is empty.")
    return [h.strip() for h in header_row[1]], list(records)
