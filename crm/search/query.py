"""What a user types turned into a Whoosh query: words and "phrases" over the weighted fields,
an any-word and a typo-tolerant fallback, phone numbers, as-you-type prefixes, and the
kind:/owner:/tag: filters."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from whoosh import qparser
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
    Term,
)

from crm.search.schema import (
    _FIELD_BOOSTS,
    _NAME_ANALYZER,
    _PHONE_MIN_DIGITS,
    _PHONE_QUERY_DIGITS,
    _PREFIX_ANALYZER,
    _QUERY_SCHEMA,
    _digits,
    _pair_term,
)

MAX_QUERY_CHARS = 200  # the search box's limit; the engine cuts longer text to it too
# Distinct kind:/owner:/tag: tokens honoured in one query (repeats count once); further
# ones are dropped, so no query grows with the number of tokens typed.
MAX_FILTERS = 8
_MAX_QUERY_CHARS = MAX_QUERY_CHARS
_FUZZY_MIN_CHARS = 5

_EMAIL_LIKE = re.compile(r"[^\s@\"]+@[^\s@\"]+\.[^\s@\"]+")
_PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]+")


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
