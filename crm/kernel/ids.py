"""Record ids typed by users — in URLs, query strings and form fields — parsed in one place.

Promise: an id is a positive integer that fits the database's id columns (INTEGER: 32-bit on
PostgreSQL). Anything else (zero, negative, 20 digits, "²", "1e3", "") is "no such record":
`<id:...>` in a URL gives 404, `parse_id()` gives None, `IdField` gives an inline form error.
None of them lets a value reach the database that would make it raise (an overflow there is a
500).
"""

from __future__ import annotations

from collections.abc import Iterable

from werkzeug.routing import IntegerConverter
from wtforms import IntegerField

# Record ids are INTEGER columns: 32-bit on PostgreSQL, so a larger id (124841583754, found by
# the fuzz walk) made the query raise "integer out of range" (a 500) there.
MAX_ID = 2**31 - 1
MAX_INT = 2**63 - 1  # a 64-bit signed column (BIGINT values such as a deal's value)


def parse_id(value: object) -> int | None:
    """The id in `value` (str or int), or None when it is not one. Never raises."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value if value is not None else "").strip()
        # ASCII digits only: "²".isdigit() is true but int("²") raises.
        if not text or len(text) > 19 or not (text.isascii() and text.isdigit()):
            return None
        number = int(text)
    return number if 1 <= number <= MAX_ID else None


def parse_ids(values: Iterable[object]) -> list[int]:
    """The valid ids among `values`, in order, without repeats (bulk `ids=` fields)."""
    seen: dict[int, None] = {}
    for value in values:
        if (number := parse_id(value)) is not None:
            seen.setdefault(number, None)
    return list(seen)


class IdConverter(IntegerConverter):
    """The URL converter `<id:name>`: only ids in 1..2**31-1 match, anything else is a 404."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 (werkzeug's name)
        super().__init__(map, min=1, max=MAX_ID)

    def to_python(self, value: str) -> int:
        if len(value) > 19:  # no need to build a huge int to refuse it
            from werkzeug.routing import ValidationError

            raise ValidationError()
        return super().to_python(value)


class IdField(IntegerField):
    """A form field holding a record id; a value that is not one is a field error, not a 500."""

    def process_formdata(self, valuelist) -> None:
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        self.data = parse_id(valuelist[0])
        if self.data is None:
            raise ValueError(self.gettext("Not a valid choice."))


def register(app) -> None:
    """Make `<id:...>` available to every blueprint's routes."""
    app.url_map.converters["id"] = IdConverter


def parse_int(value: object) -> int | None:
    """Any integer a 64-bit signed column holds (a position in a keyset cursor), else None."""
    text = str(value if value is not None else "").strip()
    digits = text[1:] if text[:1] == "-" else text
    if not digits or len(digits) > 19 or not (digits.isascii() and digits.isdigit()):
        return None
    number = int(text)
    return number if -MAX_INT - 1 <= number <= MAX_INT else None
