"""Rapport's full-text search core: a small, framework-free layer over Whoosh.

The app turns each record into a plain dict and hands it to :meth:`SearchEngine.update`
or :meth:`SearchEngine.rebuild`. Only ``team_id``, ``kind`` and ``id`` are required;
missing, empty or ``None`` values are skipped::

    {
        "team_id": 1,                       # int; every query is confined to one team
        "kind": "contact",                  # one of KINDS
        "id": 42,                           # int primary key of the record
        "title": "John Smith",              # name or subject: ranked highest, shown
        "emails": ["john.smith@acme.com"],  # list[str]
        "phones": ["+1 (555) 123-4567"],    # list[str], any formatting
        "company": "Acme Inc",              # str
        "body": "Met at the expo ...",      # str: notes, call/meeting text, email text,
                                            # deal/task descriptions, participants,
                                            # attachment names, joined by the app
        "owner": 3,                         # int user id
        "tags": ["vip", "renewal"],         # list[str]
        "url": "/contacts/42",              # str, shown
        "subtitle": "CTO at Acme",          # str, shown
        "updated": datetime(2026, 1, 5),    # datetime: newest first on equal scores
    }

Deletes are ``(team_id, kind, id)`` tuples.
"""

from __future__ import annotations

import bisect
import html
import os
import re
import shutil
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from whoosh import index, qparser, sorting
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
from whoosh.collectors import CollapseCollector, FilterCollector
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.highlight import ContextFragmenter, HtmlFormatter
from whoosh.idsets import DocIdSet
from whoosh.lang.porter import stem
from whoosh.query import (
    And,
    AndNot,
    FuzzyTerm,
    Not,
    NullQuery,
    Or,
    Phrase,
    Prefix,
    Query,
    QueryError,
    Term,
)
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
_SNIPPET_CHARS = 200
MAX_QUERY_CHARS = 200  # the search box's limit; the engine cuts longer text to it too
# Distinct kind:/owner:/tag: tokens honoured in one query (repeats count once); further
# ones are dropped, so no query grows with the number of tokens typed.
MAX_FILTERS = 8
_MAX_QUERY_CHARS = MAX_QUERY_CHARS
_FUZZY_MIN_CHARS = 5
_WRITER_TIMEOUT_S = 30.0
_OPEN_ATTEMPTS = 8
_FULL_SORT_MAX = 1000  # up to this many matches, ties are broken newest first
_COUNT_CAP = 5000  # matches counted for totals and facets; beyond it they read "5000+"
# Time budgets of a results page. Two words common in a million notes match tens of
# thousands of records, and Whoosh scores and counts each of them in Python (~1 s); past
# the budget the page shows the best of the matches scored so far and counts read "N+".
_SCORE_BUDGET_S = 0.025
_COUNT_BUDGET_S = 0.010
_SUGGEST_BUDGET_S = 0.025  # as-you-type: the best of the prefix matches seen in 25 ms
# Matches always walked before a budget applies, however slow the machine: counts of up
# to 2,000 matches are exact; scoring may stop after 256 (each costs ~50 us in Whoosh).
_WALK_BEFORE_BUDGET = 2000
_SCORE_BEFORE_BUDGET = 256
_PROGRESS_EVERY = 1000
_REBUILD_LIMIT_MB = 256  # per indexing process: fewer runs to merge at the end
_KEEP_GENERATIONS = 2  # the live index and the one before it (other processes may lag)

_VERSION_FILE = "schema_version"
_POINTER_FILE = "current"
_GENERATION_PREFIX = "gen-"
_BUILD_PREFIX = "build-"

_EMAIL_LIKE = re.compile(r"[^\s@\"]+@[^\s@\"]+\.[^\s@\"]+")
_PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]+")
_NON_DIGITS = re.compile(r"\D")
_BY_SCORE_THEN_NEWEST = sorting.MultiFacet(
    [sorting.ScoreFacet(), sorting.FieldFacet("updated", reverse=True)]
)


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str
    id: int
    title: str
    subtitle: str
    url: str
    snippet: str  # safe HTML: escaped text with <mark> around matches
    score: float


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[Hit]
    total: int
    page: int
    pagelen: int
    facets: dict[str, int] = field(default_factory=dict)  # kind -> matches, all kinds
    relaxed: bool = False  # True when only the any-word or typo-tolerant fallback matched
    capped: bool = False  # counting stopped at _COUNT_CAP matches: total and facets are "N+"
    partial: bool = False  # scoring ran out of time: best hits of the matches scored so far


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


def _make_parser(group: type[qparser.syntax.GroupNode]) -> qparser.MultifieldParser:
    parser = qparser.MultifieldParser(
        list(_FIELD_BOOSTS), _QUERY_SCHEMA, fieldboosts=_FIELD_BOOSTS, group=group
    )
    for plugin in (
        qparser.WildcardPlugin,  # prefixes come from title_prefix, see _PREFIX_ANALYZER
        qparser.RangePlugin,
        qparser.BoostPlugin,
        qparser.EveryPlugin,
        qparser.SingleQuotePlugin,  # apostrophes belong to names like O'Brien
    ):
        parser.remove_plugin_class(plugin)
    parser.add_plugin(qparser.FieldAliasPlugin({"tags": ["tag"]}))
    return parser


_ALL_WORDS = _make_parser(qparser.AndGroup)
_ANY_WORD = _make_parser(qparser.OrGroup)


def _parse(parser: qparser.QueryParser, text: str) -> Query | None:
    """User input never raises: a query Whoosh cannot make sense of matches nothing."""
    try:
        query = _limit_phrases(parser.parse(text)).normalize()
    except Exception:  # noqa: BLE001 - any parser failure is just a query with no results
        return None
    return None if query is NullQuery else query


# A quoted phrase is looked for in names, companies and bodies only (the fields that
# index word pairs), not in the n-gram, email-part or phone fields.
_PHRASE_FIELDS = frozenset({"title", "company", "body"})


def _limit_phrases(query: Query) -> Query:
    if isinstance(query, Phrase):
        return _pair_query(query) if query.fieldname in _PHRASE_FIELDS else NullQuery
    if query.is_leaf():
        return query
    return query.apply(_limit_phrases)


def _pair_query(phrase: Phrase) -> Query:
    """A phrase as the AND of its words and its word-pair terms ("a b", "b c" for "a b c").

    Records holding every pair almost always hold the phrase itself (see _PAIR_BUCKETS).
    The slop of "a b"~N is ignored.
    """
    words = [w for w in phrase.words if w]
    if not words:
        return NullQuery
    if len(words) == 1:
        return Term(phrase.fieldname, words[0], boost=phrase.boost)
    pairs = dict.fromkeys(_pair_term(a, b) for a, b in pairwise(words))
    pair_terms = [Term(phrase.fieldname, pair, boost=phrase.boost) for pair in pairs]
    word_terms = [
        _PhraseWord(phrase.fieldname, w, boost=phrase.boost) for w in dict.fromkeys(words)
    ]
    return And(pair_terms + word_terms)


class _PhraseWord(Term):
    """A phrase's word, required only to rule out pair-hash collisions.

    Checking a word found in a large share of records walks its whole posting list
    (Whoosh skips block by block, then id by id), which cost 100 ms for one phrase at
    55,000 records; ``_drop_common_phrase_words`` leaves such words out, keeping the
    pair terms (a collision among many true matches is then possible but rare).
    """


_PHRASE_WORD_MAX_SHARE = 0.02  # words in more than 2% of records are not re-checked


def _drop_common_phrase_words(query: Query, searcher: Any) -> Query:
    if isinstance(query, _PhraseWord):
        limit = max(1000, int(searcher.doc_count_all() * _PHRASE_WORD_MAX_SHARE))
        if searcher.doc_frequency(query.fieldname, query.text) > limit:
            return NullQuery
        return query
    if query.is_leaf():
        return query
    return query.apply(lambda q: _drop_common_phrase_words(q, searcher))


# The small fields where a record is named: a match there must outrank body mentions even
# when a big page runs out of time before scoring it (see _search_page).
_BODY_ONLY_FIELDS = frozenset({"body", "title_prefix"})


def _names_only(query: Query) -> Query | None:
    """``query`` with its body and n-gram alternatives removed, or None if it cannot
    match on names alone. It matches a subset of ``query``: an And fails as a whole when
    one of its parts needs the body; an Or keeps the alternatives that do not."""
    if query is NullQuery:
        return query
    if query.is_leaf():
        return None if query.field() in _BODY_ONLY_FIELDS else query
    if isinstance(query, Not):
        return query  # excluding on every field is still a restriction
    if isinstance(query, AndNot):
        positive = _names_only(query.a)
        return None if positive is None else AndNot(positive, query.b)
    if isinstance(query, And):
        parts = [_names_only(q) for q in query.subqueries]
        return None if any(p is None for p in parts) else And(parts, boost=query.boost)
    if isinstance(query, Or):
        parts = [p for q in query.subqueries if (p := _names_only(q)) is not None]
        return Or(parts, boost=query.boost) if parts else None
    return None  # anything else: no names-only pass


def _phone_term(text: str) -> Term | None:
    digits = _digits(text)
    if _PHONE_LIKE.fullmatch(text) and len(digits) >= _PHONE_MIN_DIGITS:
        return Term("phones", digits[-_PHONE_QUERY_DIGITS:])
    return None


def _with_phone(query: Query | None, text: str) -> Query | None:
    phone = _phone_term(text)
    if phone is None:
        return query
    return phone if query is None else Or([query, phone])


def _fuzzy_names(text: str) -> Query | None:
    """Typo tolerance on names, only for words long enough that one edit is telling."""
    words = [t.text for t in _NAME_ANALYZER(text) if len(t.text) >= _FUZZY_MIN_CHARS]
    if not words:
        return None
    return And([FuzzyTerm("title", w, maxdist=1, prefixlength=1) for w in words])


def _suggest_query(text: str) -> Query | None:
    clauses: list[Query] = []
    grams = [t.text for t in _PREFIX_ANALYZER(text, mode="query")]
    if grams:
        clauses.append(And([Term("title_prefix", g) for g in grams]))
    lowered = text.lower()
    if "@" in lowered and " " not in lowered:
        # Bounded by the "local@" part, unlike a bare wildcard.
        clauses.append(Prefix("emails", lowered))
    if (phone := _phone_term(text)) is not None:
        clauses.append(phone)
    return Or(clauses) if clauses else None


def _clean(text: str) -> str:
    return text.strip()[:_MAX_QUERY_CHARS]


# kind:deal  owner:3  owner:3,5 (any of)  tag:vip  tag:"big deal"
_FILTER_TOKEN = re.compile(r'(?<!\S)(kind|owner|tags?):("[^"]*"|[^\s"]+)', re.IGNORECASE)
_FILTER_FIELD = {"kind": "kind", "owner": "owner", "tag": "tags", "tags": "tags"}


def _split_filters(text: str) -> tuple[str, Query | None]:
    """Take the filters out of the words: they are required, even by the fallbacks.

    A repeated filter counts once, and at most MAX_FILTERS distinct ones are kept."""
    clauses: list[Query] = []
    seen: set[tuple[str, frozenset[str]]] = set()

    def take(match: re.Match) -> str:
        name = _FILTER_FIELD[match.group(1).lower()]
        values = [v.strip() for v in match.group(2).strip('"').split(",") if v.strip()]
        if name == "tags":
            values = [v.lower() for v in values]
        values = list(dict.fromkeys(values))
        key = (name, frozenset(values))
        if key in seen or len(seen) >= MAX_FILTERS:
            return " "
        seen.add(key)
        if values:
            terms = [Term(name, v) for v in values]
            clauses.append(terms[0] if len(terms) == 1 else Or(terms))
        return " "

    words = _FILTER_TOKEN.sub(take, text).strip()
    return words, (And(clauses) if len(clauses) > 1 else clauses[0]) if clauses else None


class SearchEngine:
    """One search index (all teams) kept under ``path``.

    Layout: ``path/current`` names the live generation directory ``path/gen-*``; each
    generation holds a Whoosh index and its ``schema_version``. A rebuild writes a new
    generation and swaps the pointer, so readers never see a half-built index.
    """

    def __init__(self, path: str | Path, *, procs: int = 1) -> None:
        """``procs`` > 1 makes rebuild() fork that many indexing processes (Whoosh's
        multisegment writer): ~1.6x faster on 2 cores, for a job process, not a web one.
        """
        self._root = Path(path)
        self._procs = procs
        self._lock = threading.RLock()
        self._generation: str | None = None
        self._index: index.Index | None = None
        self._searcher: Any = None  # whoosh Searcher, replaced by refresh()
        self._kind_column: tuple[Any, Any] | None = None  # (searcher, its "kind" column)
        # (segment id, team_id) -> that team's document numbers in the segment
        self._team_docs: dict[tuple[str, int], frozenset[int]] = {}

    # -- lifecycle -------------------------------------------------------------------

    def open_or_create(self) -> bool:
        """Open the live index; return True when the caller must rebuild it.

        A missing index, or one written with another SCHEMA_VERSION, is replaced by an
        empty one at once so searches and updates work (finding nothing) until then.
        """
        with self._lock:
            self._root.mkdir(parents=True, exist_ok=True)
            generation = self._live_generation()
            if generation is not None and self._stored_version(generation) == SCHEMA_VERSION:
                self._open(generation)
                return False
            build_dir = self._new_build_dir()
            index.create_in(build_dir, SCHEMA)
            self._publish(build_dir)
            return True

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = self._index = self._generation = None

    # -- writing ---------------------------------------------------------------------

    def update(
        self, docs: Iterable[Mapping[str, Any]], deletes: Iterable[tuple[int, str, int]] = ()
    ) -> None:
        """Upsert ``docs`` and remove ``deletes`` in one commit (deletes win).

        Each commit costs tens of milliseconds and adds a segment, so callers should
        batch changes. Waits up to 30 s for another writer, then raises LockError.
        """
        writer = self._live_index().writer(timeout=_WRITER_TIMEOUT_S)
        with writer:  # commits, or cancels if anything raises
            for doc in docs:
                writer.update_document(**_to_fields(doc))
            for team_id, kind, record_id in deletes:
                writer.delete_by_term("key", _key(team_id, kind, record_id))

    def optimize(self) -> None:
        """Merge all segments into one: run now and then (e.g. nightly) after updates."""
        self._live_index().writer(timeout=_WRITER_TIMEOUT_S).commit(optimize=True)

    def rebuild(
        self,
        docs: Iterable[Mapping[str, Any]],
        total: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Index ``docs`` into a fresh generation, then swap it in atomically.

        Searches keep using the old index meanwhile. Updates made to the old index
        during the rebuild are not carried over: re-send records changed since it began.
        ``progress(count)`` is called about every 1% of ``total`` (or 1000 documents).
        """
        every = max(1, total // 100) if total else _PROGRESS_EVERY
        build_dir = self._new_build_dir()
        try:
            writer = index.create_in(build_dir, SCHEMA).writer(
                procs=self._procs, multisegment=self._procs > 1, limitmb=_REBUILD_LIMIT_MB
            )
            with writer:
                count = 0
                for count, doc in enumerate(docs, 1):
                    writer.add_document(**_to_fields(doc))
                    if progress is not None and count % every == 0:
                        progress(count)
            if progress is not None:
                progress(count)
        except BaseException:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
        with self._lock:
            self._publish(build_dir)

    # -- searching -------------------------------------------------------------------

    def search(
        self,
        team_id: int,
        q: str,
        *,
        kinds: Iterable[str] | None = None,
        page: int = 1,
        pagelen: int = 20,
    ) -> SearchPage:
        """Full results page for ``q`` (words, "phrases", kind:/owner:/tag: filters)."""
        page, pagelen = max(1, page), max(1, pagelen)
        text, filters = _split_filters(_clean(q))
        kind_filter = Or([Term("kind", k) for k in kinds]) if kinds is not None else None
        if text and _EMAIL_LIKE.fullmatch(text):
            # An address is one exact term: no phrase over every text field.
            candidates: tuple[tuple[Query | None, bool], ...] = (
                (Term("emails", text.lower()), False),
                (_parse(_ALL_WORDS, text), False),
                (_parse(_ANY_WORD, text), True),
            )
        elif text:
            candidates = (
                (_with_phone(_parse(_ALL_WORDS, text), text), False),
                (_parse(_ANY_WORD, text), True),
                (_fuzzy_names(text), True),
            )
        else:
            candidates = ((filters, False),)
        with self._lock:
            searcher = self._current_searcher()
            for query, relaxed in candidates:
                if query is None:
                    continue
                if filters is not None and query is not filters:
                    query = And([query, filters])
                result = self._search_page(searcher, team_id, query, kind_filter, page, pagelen)
                # Fall back only when the team has no match at all, not merely none of
                # the selected kinds: the facets still point the user to the others.
                if result is not None and result.facets:
                    return replace(result, relaxed=relaxed)
        return SearchPage(hits=[], total=0, page=page, pagelen=pagelen)

    def suggest(self, team_id: int, q: str, per_kind: int = 5) -> dict[str, list[Hit]]:
        """As-you-type matches grouped by kind, best first: name prefixes, email, phone."""
        query = _suggest_query(_clean(q))
        if query is None:
            return {}
        grouped: dict[str, list[Hit]] = {}
        with self._lock:
            results = self._run(
                self._current_searcher(),
                team_id,
                query,
                limit=per_kind * len(KINDS),
                collapse="kind",
                collapse_limit=per_kind,
                sortedby=_BY_SCORE_THEN_NEWEST,
                budget_s=_SUGGEST_BUDGET_S,
            )
            for hit in results:
                grouped.setdefault(hit.fields()["kind"], []).append(_hit(hit, snippet=""))
        return grouped

    # -- internals -------------------------------------------------------------------

    def _run(
        self,
        searcher: Any,
        team_id: int,
        query: Query,
        *,
        budget_s: float | None = None,
        count_kinds: bool = False,
        min_hits: int | None = None,
        named: Container[int] = (),
        **kwargs: Any,
    ) -> Any:
        """The one place queries reach the index: each is confined to its team.

        ``budget_s`` stops collecting after that many seconds: the results are then the
        best of the matches seen so far, and ``results.collector.timed_out`` is True.
        Past it, collecting goes on until ``min_hits`` (default: the limit) of the team's
        matches not in ``named`` or _SCORE_BEFORE_BUDGET matches of any team were seen.
        """
        deadline = time.perf_counter() + budget_s if budget_s is not None else None
        team = self._team_filter(searcher, team_id)
        if "collapse" in kwargs:
            # Whoosh's collapsing collector and its filter collector bypass each other
            # when stacked, so one collector does both.
            collapse, per_key = kwargs.pop("collapse"), kwargs.pop("collapse_limit", 1)
            collector: Any = _TeamCollapseCollector(
                searcher.collector(**kwargs), collapse, per_key, team, deadline
            )
        else:
            if count_kinds:  # every match must reach the collector: no block skipping
                kwargs["optimize"] = False
            collector = _TeamCollector(
                searcher.collector(**kwargs),
                team,
                deadline,
                self._kinds_column(searcher) if count_kinds and searcher.doc_count_all() else None,
            )
            if min_hits is not None:
                collector.min_hits = min_hits
            collector.named = named
        searcher.search_with_collector(query, collector)
        return collector.results()

    def _team_filter(self, searcher: Any, team_id: int) -> _TeamDocs:
        """The team's documents as a filter (caller locks).

        ANDing a Term("team_id") into the query made every query walk the team's whole
        posting list in step with its words (a rare word took 9 ms instead of 1.4 ms at
        220,000 documents). The sets are cached per segment, so a commit only reads the
        new segments' team postings.
        """
        wanted = str(team_id)
        parts: list[tuple[int, frozenset[int]]] = []
        live: set[tuple[str, int]] = set()
        for leaf, offset in searcher.leaf_searchers():
            reader = leaf.reader()
            key = (_segment_id(reader), team_id)
            live.add(key)
            docs = self._team_docs.get(key)
            if docs is None:
                docs = frozenset(
                    reader.postings("team_id", wanted).all_ids()
                    if ("team_id", wanted) in reader
                    else ()
                )
                self._team_docs[key] = docs
            parts.append((offset, docs))
        if len(self._team_docs) > 4 * len(live) + 64:  # forget merged-away segments
            keep = {seg for seg, _ in live}
            self._team_docs = {k: v for k, v in self._team_docs.items() if k[0] in keep}
        return _TeamDocs(parts)

    def _search_page(
        self,
        searcher: Any,
        team_id: int,
        query: Query,
        kind_filter: Query | None,
        page: int,
        pagelen: int,
    ) -> SearchPage | None:
        """One page of scored hits, plus per-kind counts of (up to _COUNT_CAP) matches.

        Scoring is top-N only (no sort key, no grouping), so Whoosh can skip posting
        blocks that cannot reach the top; the counts walk matching documents without
        scoring them and stop at the cap, so very common words cost a bounded time.
        """
        limit = page * pagelen
        query = _drop_common_phrase_words(query, searcher).normalize()
        if query is NullQuery:
            return None
        partial = False
        wanted = query if kind_filter is None else And([query, kind_filter])
        started = time.perf_counter()
        try:
            # Scoring stops early past its budget and walks records oldest first, so a
            # record NAMED by the words might never be scored while body mentions fill
            # the page. Names are short posting lists: score them all first (their time
            # comes out of the budget), and put them ahead of a partial page's hits.
            named = self._named(searcher, team_id, wanted, limit)
            budget = max(0.0, _SCORE_BUDGET_S - (time.perf_counter() - started))
            # Past the budget, the body pass need only fill what the names left of a page.
            min_hits = max(1, limit - len(named))
            named_docs = {h.docnum for h in named}
            if kind_filter is None:
                # A first scored pass that is not full holds every match: no count pass.
                first = self._run(
                    searcher,
                    team_id,
                    query,
                    limit=limit,
                    terms=False,
                    budget_s=budget,
                    min_hits=min_hits,
                    named=named_docs,
                    count_kinds=True,
                )
                partial = first.collector.timed_out
                if not partial and first.scored_length() < limit:
                    return self._small_page(first, page, pagelen)
            if kind_filter is None and not partial:
                # The scoring pass saw every match: its per-kind tally is exact.
                facets, capped = dict(first.collector.kind_counts), False
            elif kind_filter is None and first.collector.kind_counts:
                # Out of time: the counts are "N+" anyway, and a counting pass would walk
                # the same sparse matches again (for two common words each costs a
                # leapfrog over big posting lists: 135 ms p50 at a million records).
                facets, capped = dict(first.collector.kind_counts), True
            else:
                facets, capped = self._count_kinds(searcher, team_id, query)
            if not facets and capped and kind_filter is None and first.scored_length():
                # Out of time before the count saw one of the team's records.
                for hit in first:
                    kind = hit.fields()["kind"]
                    facets[kind] = facets.get(kind, 0) + 1
            if capped:  # counting stopped early: count at least the named records shown
                for kind, n in Counter(h.fields()["kind"] for h in named).items():
                    facets[kind] = max(facets.get(kind, 0), n)
            if not facets:
                return SearchPage(hits=[], total=0, page=page, pagelen=pagelen)
            # Few matches: sort them all (score, then newest); many: top-N scoring only.
            sort = (
                {}
                if capped or partial or sum(facets.values()) > _FULL_SORT_MAX
                else {"sortedby": _BY_SCORE_THEN_NEWEST}
            )
            if kind_filter is None and not sort:
                results = first  # the same top-N query already ran
            else:
                results = self._run(
                    searcher,
                    team_id,
                    wanted,
                    limit=page * pagelen,
                    terms=False,
                    budget_s=budget,
                    min_hits=min_hits,
                    named=named_docs,
                    **sort,
                )
                partial = results.collector.timed_out
        except QueryError:
            return None
        _prepare_snippets(results)
        start = (page - 1) * pagelen
        shown = results[0:limit]
        if partial and named:
            shown = named + [h for h in shown if h.docnum not in named_docs]
        hits = [_hit(h, snippet=_snippet(h)) for h in shown[start : start + pagelen]]
        if kind_filter is None:
            total = sum(facets.values())
        else:
            total = sum(n for k, n in facets.items() if k in _kinds_of(kind_filter))
        return SearchPage(
            hits=hits,
            total=total,
            page=page,
            pagelen=pagelen,
            facets=facets,
            capped=capped or partial,
            partial=partial,
        )

    def _named(self, searcher: Any, team_id: int, query: Query, limit: int) -> list[Any]:
        """The best ``limit`` records matching ``query`` on their names, emails or
        company alone (no time budget), with snippets highlighting all of ``query``."""
        names = _names_only(query)
        if names is None or (names := names.normalize()) is NullQuery:
            return []
        results = self._run(searcher, team_id, names, limit=limit, terms=False)
        results.q = query  # snippets mark the body words too
        _prepare_snippets(results)
        return [results[i] for i in range(results.scored_length())]

    @staticmethod
    def _small_page(results: Any, page: int, pagelen: int) -> SearchPage:
        """Every match is in ``results``: facets from them, ties newest first."""
        _prepare_snippets(results)
        # Not list(results): list() asks len(), and Results.__len__ re-runs the whole
        # query without a limit to count matches (it walked the team's every document).
        every = [results[i] for i in range(results.scored_length())]
        facets: dict[str, int] = {}
        for h in every:
            kind = h.fields()["kind"]
            facets[kind] = facets.get(kind, 0) + 1
        every.sort(key=lambda h: (-round(h.score, 9), -_timestamp(h.fields().get("updated"))))
        start = (page - 1) * pagelen
        hits = [_hit(h, snippet=_snippet(h)) for h in every[start : start + pagelen]]
        return SearchPage(hits=hits, total=len(every), page=page, pagelen=pagelen, facets=facets)

    def _kinds_column(self, searcher: Any) -> Any:
        if self._kind_column is None or self._kind_column[0] is not searcher:
            # Building a column reader costs O(documents): once per opened searcher.
            self._kind_column = (searcher, searcher.reader().column_reader("kind"))
        return self._kind_column[1]

    def _count_kinds(self, searcher: Any, team_id: int, query: Query) -> tuple[dict, bool]:
        if searcher.doc_count_all() == 0:
            return {}, False
        kinds = self._kinds_column(searcher)
        counts: dict[str, int] = {}
        team = self._team_filter(searcher, team_id)
        deadline = time.perf_counter() + _COUNT_BUDGET_S
        seen = 0
        for walked, docnum in enumerate(_matching_docs(searcher, query), 1):
            if not walked & 7 and walked >= _WALK_BEFORE_BUDGET and time.perf_counter() > deadline:
                return counts, True
            if docnum not in team:
                continue
            kind = kinds[docnum]
            kind = kind.decode() if isinstance(kind, bytes) else kind
            counts[kind] = counts.get(kind, 0) + 1
            seen += 1
            if seen >= _COUNT_CAP:
                return counts, True
        return counts, False

    def _current_searcher(self) -> Any:
        """The kept-open searcher, reopened after a commit or a rebuild (caller locks).

        Not Searcher.refresh(): in whoosh-ng 5.4 (and whoosh-reloaded 2.7.5) it keeps the
        segments a merge replaced, so updated records show up twice and deleted ones come
        back. Reopening costs a few milliseconds, and only after a commit.
        """
        if not self._follow_pointer() and not self._searcher.up_to_date():
            self._open(self._generation)
        return self._searcher

    def _live_index(self) -> index.Index:
        with self._lock:
            self._follow_pointer()
            assert self._index is not None
            return self._index

    def _follow_pointer(self) -> bool:
        """Open the live generation if it is not the one open; True if it was reopened."""
        generation = self._live_generation()
        if generation is None:
            raise RuntimeError("search index missing: call open_or_create() first")
        if generation == self._generation:
            return False
        self._open(generation)
        return True

    def _open(self, generation: str) -> None:
        # Closing the old searcher is safe: every query holds the lock while it reads.
        if self._searcher is not None:
            self._searcher.close()
        # A writer in another thread or process may replace the table of contents (and
        # delete the old one) between Whoosh listing and reading it: try again.
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                self._index = index.open_dir(self._root / generation)
                self._searcher = self._index.searcher()
                break
            except FileNotFoundError:
                if attempt == _OPEN_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        self._generation = generation

    def _live_generation(self) -> str | None:
        try:
            return (self._root / _POINTER_FILE).read_text().strip() or None
        except FileNotFoundError:
            return None

    def _stored_version(self, generation: str) -> int | None:
        try:
            return int((self._root / generation / _VERSION_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _new_build_dir(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=_BUILD_PREFIX, dir=self._root))

    def _publish(self, build_dir: Path) -> None:
        """Make a finished build the live generation (caller holds the lock)."""
        (build_dir / _VERSION_FILE).write_text(f"{SCHEMA_VERSION}\n")
        generation = _GENERATION_PREFIX + build_dir.name.removeprefix(_BUILD_PREFIX)
        build_dir.rename(self._root / generation)
        pointer = self._root / f".{_POINTER_FILE}.{os.getpid()}.{threading.get_ident()}"
        pointer.write_text(generation)
        os.replace(pointer, self._root / _POINTER_FILE)  # atomic on POSIX and Windows
        self._open(generation)
        self._prune(keep=generation)

    def _prune(self, keep: str) -> None:
        generations = sorted(
            self._root.glob(_GENERATION_PREFIX + "*"), key=lambda p: p.stat().st_mtime
        )
        old = [p for p in generations if p.name != keep][: -(_KEEP_GENERATIONS - 1)]
        for path in old:
            shutil.rmtree(path, ignore_errors=True)


def _matching_docs(searcher: Any, query: Query) -> Iterator[int]:
    """Matching document numbers, lazily: ``searcher.docs_for_query`` intersects whole
    id sets before yielding the first one, which no time budget can stop."""
    for leaf, offset in searcher.leaf_searchers():
        matcher = query.matcher(leaf)
        while matcher.is_active():
            yield offset + matcher.id()
            matcher.next()


class _TeamCollector(FilterCollector):
    """Lets through only the team's documents; optionally stops at a deadline."""

    def __init__(
        self, child: Any, team: _TeamDocs, deadline: float | None, kinds: Any = None
    ) -> None:
        super().__init__(child, allow=team)
        self.deadline = deadline
        self.timed_out = False
        self.kinds = kinds  # a "kind" column reader: count the team's matches per kind
        self.kind_counts: dict[str, int] = {}
        self.seen = self.collected = 0  # matches of any team / of the team, all segments
        self.min_hits = getattr(child, "limit", None) or _SCORE_BEFORE_BUDGET
        self.named: Container[int] = ()  # already on the page: not counted in min_hits

    def collect_matches(self) -> None:
        if self.timed_out:
            return
        child, team, offset, deadline = self.child, self._allow, self.offset, self.deadline
        kinds, counts = self.kinds, self.kind_counts
        # Past the deadline, stop once a full page was collected (or _SCORE_BEFORE_BUDGET
        # matches of any team were seen): matches of two common words are sparse and each
        # costs a leapfrog over big posting lists, so a fixed 256 cost 10-20 ms alone.
        full = self.min_hits
        for sub_docnum in child.matches():
            self.seen += 1
            if offset + sub_docnum in team:
                child.collect(sub_docnum)
                if offset + sub_docnum not in self.named:
                    self.collected += 1
                if kinds is not None:
                    kind = kinds[offset + sub_docnum]
                    kind = kind.decode() if isinstance(kind, bytes) else kind
                    counts[kind] = counts.get(kind, 0) + 1
            if (
                deadline is not None
                and not self.seen & 7
                and (self.collected >= full or self.seen >= _SCORE_BEFORE_BUDGET)
                and time.perf_counter() > deadline
            ):
                self.timed_out = True
                return


class _TeamCollapseCollector(CollapseCollector):
    """CollapseCollector.collect_matches with the team filter and an optional deadline."""

    def __init__(
        self, child: Any, keyfacet: Any, limit: int, team: _TeamDocs, deadline: float | None
    ) -> None:
        super().__init__(child, keyfacet, limit=limit)
        self.team = team
        self.deadline = deadline
        self.timed_out = False

    def collect_matches(self) -> None:
        if self.timed_out:
            return
        child, team, deadline = self.child, self.team, self.deadline
        matcher, offset = child.matcher, child.offset
        for seen, sub_docnum in enumerate(child.matches(), 1):
            if (
                deadline is not None
                and not seen & 7
                and seen >= _SCORE_BEFORE_BUDGET
                and time.perf_counter() > deadline
            ):
                self.timed_out = True
                return
            global_docnum = offset + sub_docnum
            if global_docnum not in team:
                continue
            key = self.keyer.key_to_name(self.keyer.key_for(matcher, sub_docnum))
            if not key:
                child.collect(sub_docnum)
                continue
            sort_key = child.sort_key(sub_docnum)
            best = self.lists[key]
            if len(best) >= self.limit:
                if sort_key >= best[-1][0]:
                    self.collapsed_counts[key] += 1
                    self.collapsed_total += 1
                    continue
                child.remove(best.pop()[1])
            bisect.insort(best, (sort_key, global_docnum))
            child.collect(sub_docnum)


class _TeamDocs(DocIdSet):
    """Global document numbers of one team, from per-segment sets (membership only)."""

    def __init__(self, parts: list[tuple[int, frozenset[int]]]) -> None:
        self._offsets = [offset for offset, _ in parts]
        self._sets = [docs for _, docs in parts]

    def __contains__(self, docnum: int) -> bool:
        at = bisect.bisect_right(self._offsets, docnum) - 1
        return at >= 0 and docnum - self._offsets[at] in self._sets[at]

    def __bool__(self) -> bool:
        # Always true: Whoosh skips filtering for a falsy filter, and an empty team must
        # see nothing, not everything.
        return True

    def __len__(self) -> int:
        return sum(len(docs) for docs in self._sets)

    def __iter__(self) -> Iterator[int]:
        for offset, docs in zip(self._offsets, self._sets, strict=True):
            yield from sorted(offset + d for d in docs)


def _segment_id(reader: Any) -> str:
    segment = reader.segment() if hasattr(reader, "segment") else None
    return segment.segment_id() if segment is not None else str(id(reader))


def _timestamp(value: Any) -> float:
    return value.timestamp() if value is not None else 0.0


def _kinds_of(kind_filter: Query) -> set[str]:
    return {t.text for t in kind_filter.subqueries} if hasattr(kind_filter, "subqueries") else set()


def _hit(hit: Any, snippet: str) -> Hit:
    # hit.fields(), not hit.get(): whoosh-ng dropped Hit.get().
    stored = hit.fields()
    return Hit(
        kind=stored["kind"],
        id=stored["id"],
        title=stored.get("title", ""),
        subtitle=stored.get("subtitle", ""),
        url=stored.get("url", ""),
        snippet=snippet,
        # Sorted hits (suggest) carry their sort key: ScoreFacet's part is the negated score.
        score=-hit.score[0] if isinstance(hit.score, tuple) else hit.score,
    )


def _prepare_snippets(results: Any) -> None:
    results.formatter = HtmlFormatter(tagname="mark", classname="match")
    results.fragmenter = ContextFragmenter(maxchars=_SNIPPET_CHARS, surround=60)


def _snippet(hit: Any) -> str:
    """Highlighted body fragments, or the start of the body when the match was elsewhere."""
    body = hit.fields().get("body")
    if not body:
        return ""
    return hit.highlights("body", top=2) or html.escape(body[:_SNIPPET_CHARS])
