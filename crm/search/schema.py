"""The search index's schema and analyzers, and a record dict turned into index fields.

Private names here are shared inside ``crm.search`` only (the query parser and the engine);
``SCHEMA_VERSION`` must be bumped whenever SCHEMA or the analyzers change.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from functools import lru_cache
from itertools import pairwise
from typing import Any

from whoosh.analysis import (
    CharsetFilter,
    Filter,
    LowercaseFilter,
    NgramFilter,
    RegexTokenizer,
    SpaceSeparatedTokenizer,
    StemmingAnalyzer,
)
from whoosh.analysis.filters import STOP_WORDS
from whoosh.analysis.tokenizers import default_pattern
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.lang.porter import stem
from whoosh.support.charset import accent_map
from whoosh.system import pack_uint

# Bump whenever SCHEMA or the analyzers change: open_or_create() then asks for a rebuild.
SCHEMA_VERSION = 2

KINDS = ("contact", "company", "deal", "task", "note", "call", "meeting", "email")


class _WordPairs(Filter):
    """Index each word and also each pair of neighbouring words as one term "w1 w2".

    A quoted phrase is then one term lookup per pair of its words instead of a check of
    word positions in every document holding all its words (seconds for two common
    words at a million documents), and the text fields need no positions at all. Pairs
    are emitted when indexing (and when the highlighter re-reads stored text, so a
    phrase is marked as a whole), never for queries: the query side builds pair terms
    itself in ``_pair_query``. Stop words (already removed when indexing) do not break a
    pair, exactly as they did not break a positional phrase.
    """

    def __call__(self, tokens):
        previous: str | None = None
        previous_start = 0
        for token in tokens:
            yield token
            if token.stopped or token.mode == "query":
                continue
            text = token.text
            start = token.startchar if token.chars else 0
            if previous is not None:
                token.text = _pair_term(previous, text)
                if token.chars:
                    token.startchar = previous_start
                yield token
            previous, previous_start = text, start


# A pair is indexed as one of 2**20 hashed buckets, not as its text: distinct word pairs
# are many (10 million in 220,000 synthetic notes, which tripled the index), buckets are
# bounded. A phrase query also requires its words, so a record is a false match only if
# it holds both words and another pair of its words lands in the same bucket (about
# 70 pairs per note / 1,048,576 buckets, times the share of records with both words).
_PAIR_BUCKETS = 1 << 20


def _pair_term(first: str, second: str) -> str:
    # A leading space: no analyzer keeps a space inside a word, so pairs never meet words.
    bucket = zlib.crc32(f"{first} {second}".encode()) & (_PAIR_BUCKETS - 1)
    return f" {bucket:05x}"


# Names are split on every non-word character ("Smith-Jones", "j.smith") and folded
# to ASCII so that "jose" finds "José".
_NAME_ANALYZER = RegexTokenizer(r"\w+") | LowercaseFilter() | CharsetFilter(accent_map)
_NAME_PAIRS_ANALYZER = _NAME_ANALYZER | _WordPairs()
_BODY_ANALYZER = StemmingAnalyzer() | _WordPairs()
# Edge n-grams make as-you-type a single term lookup; Whoosh wildcards ("jo*") expand
# over the whole term list and took seconds at 100k contacts.
_PREFIX_MIN, _PREFIX_MAX = 2, 20
_PREFIX_ANALYZER = _NAME_ANALYZER | NgramFilter(_PREFIX_MIN, _PREFIX_MAX, at="start")
# "smith" or "acme" alone should find john.smith@acme.com.
_EMAIL_PARTS_ANALYZER = RegexTokenizer(r"[^\s.@_+\-]+") | LowercaseFilter()
# Phones are indexed as digits plus their trailing 7..15-digit suffixes, so a number typed
# with or without country or area code finds the same record.
_PHONE_MIN_DIGITS, _PHONE_MAX_DIGITS = 7, 15
_PHONE_QUERY_DIGITS = 10  # the longest suffix every stored national number has
_PHONE_ANALYZER = SpaceSeparatedTokenizer() | NgramFilter(
    _PHONE_MIN_DIGITS, _PHONE_MAX_DIGITS, at="end"
)

# -- indexing without the analyzer chain ----------------------------------------------
# Whoosh runs every word through a chain of generators (tokenizer, lowercase, stop,
# stem, pairs), which is most of a rebuild's time. These functions produce exactly the
# same terms for indexing in plain loops; queries and highlighting still use the
# analyzers above (test_fast_indexing_matches_the_analyzers guards the equivalence).

_BODY_WORD = re.compile(default_pattern.pattern)
_NAME_WORD = re.compile(r"\w+")
_stem = lru_cache(maxsize=100_000)(stem)


def _pairs(words: list[str]) -> list[str]:
    return words + [_pair_term(a, b) for a, b in pairwise(words)]


def _name_words(text: str) -> list[str]:
    return [m.group().lower().translate(accent_map) for m in _NAME_WORD.finditer(text)]


def _body_terms(text: str) -> list[str]:
    words = []
    for match in _BODY_WORD.finditer(text):
        word = match.group().lower()
        if len(word) >= 2 and word not in STOP_WORDS:
            words.append(_stem(word))
    return _pairs(words)


def _name_terms(text: str) -> list[str]:
    return _pairs(_name_words(text))


def _prefix_terms(text: str) -> list[str]:
    return [
        word[:size]
        for word in _name_words(text)
        for size in range(_PREFIX_MIN, min(_PREFIX_MAX, len(word)) + 1)
    ]


_FAST_TERMS: dict[str, Callable[[str], list[str]]] = {
    "body": _body_terms,
    "name": _name_terms,
    "prefix": _prefix_terms,
}


class _FastText(TEXT):
    """A TEXT field (no positions) that indexes through one of ``_FAST_TERMS``."""

    def __init__(self, terms: str, **kwargs: Any) -> None:
        super().__init__(phrase=False, **kwargs)
        self.terms = terms

    def index(self, value: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            yield from super().index(value, **kwargs)
            return
        boost = self.format.field_boost
        for term, freq in Counter(_FAST_TERMS[self.terms](value)).items():
            yield term.encode("utf-8"), freq, freq * boost, pack_uint(freq)


SCHEMA = Schema(
    key=ID(unique=True),
    team_id=ID(stored=True),
    kind=ID(stored=True, sortable=True),
    id=STORED(),
    # No positions anywhere: quoted phrases look up the word-pair terms of _WordPairs.
    title=_FastText("name", analyzer=_NAME_PAIRS_ANALYZER, stored=True),
    title_prefix=_FastText("prefix", analyzer=_PREFIX_ANALYZER),
    emails=KEYWORD(lowercase=True, commas=True, scorable=True),
    email_parts=TEXT(analyzer=_EMAIL_PARTS_ANALYZER, phrase=False),
    phones=TEXT(analyzer=_PHONE_ANALYZER, phrase=False),
    company=_FastText("name", analyzer=_NAME_PAIRS_ANALYZER),
    body=_FastText("body", analyzer=_BODY_ANALYZER, stored=True),
    owner=ID(),
    tags=KEYWORD(lowercase=True, commas=True, scorable=True),
    url=STORED(),
    subtitle=STORED(),
    updated=DATETIME(stored=True, sortable=True),
)

# Query-time boosts (not baked into the index, so tuning them needs no rebuild):
# names, emails and companies outrank the same word in a note.
_FIELD_BOOSTS = {
    "title": 6.0,
    "emails": 6.0,
    "company": 4.0,
    "email_parts": 3.0,
    "title_prefix": 1.0,
    "body": 1.0,
}
# What a user may name in "field:value"; any other prefix is searched as plain words.
_FILTER_FIELDS = ("kind", "owner", "tags")
_QUERY_SCHEMA = Schema(**{name: SCHEMA[name] for name in (*_FIELD_BOOSTS, *_FILTER_FIELDS)})

_STORED_BODY_CHARS = 2000  # enough for snippets, keeps stored fields small
_NON_DIGITS = re.compile(r"\D")


def _key(team_id: int, kind: str, record_id: int) -> str:
    return f"{team_id}:{kind}:{record_id}"


def _digits(text: str) -> str:
    return _NON_DIGITS.sub("", text)


def _to_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Map the app's document dict onto index fields."""
    team_id, kind, record_id = int(doc["team_id"]), str(doc["kind"]), int(doc["id"])
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    title = doc.get("title") or ""
    emails = [e.strip().lower() for e in doc.get("emails") or () if e and e.strip()]
    body = doc.get("body") or ""
    fields: dict[str, Any] = {
        "key": _key(team_id, kind, record_id),
        "team_id": str(team_id),
        "kind": kind,
        "id": record_id,
        "title": title,
        "title_prefix": title,
        "emails": ",".join(emails),
        "email_parts": " ".join(emails),
        "phones": " ".join(d for p in doc.get("phones") or () if (d := _digits(p))),
        "company": doc.get("company") or "",
        "body": body,
        "_stored_body": body[:_STORED_BODY_CHARS],
        "tags": ",".join(doc.get("tags") or ()),
        "url": doc.get("url") or "",
        "subtitle": doc.get("subtitle") or "",
    }
    if doc.get("owner") is not None:
        fields["owner"] = str(doc["owner"])
    if doc.get("updated") is not None:
        fields["updated"] = doc["updated"]
    return {name: value for name, value in fields.items() if value != ""}
