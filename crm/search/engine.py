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

The parts: ``schema`` (fields and analyzers, a dict → index fields), ``query`` (what a user
types → a Whoosh query), ``results`` (team-confined collectors, hits and snippets), ``store``
(index generations on disk, writing and rebuilding); this module searches.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Container, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from whoosh import sorting
from whoosh.query import (
    And,
    NullQuery,
    Or,
    Query,
    QueryError,
    Term,
)

from crm.search.query import (
    _ALL_WORDS,
    _ANY_WORD,
    _EMAIL_LIKE,
    _clean,
    _drop_common_phrase_words,
    _fuzzy_names,
    _names_only,
    _parse,
    _split_filters,
    _suggest_query,
    _with_phone,
)
from crm.search.results import (
    Hit,
    SearchPage,
    _hit,
    _kinds_of,
    _matching_docs,
    _prepare_snippets,
    _segment_id,
    _snippet,
    _TeamCollapseCollector,
    _TeamCollector,
    _TeamDocs,
    _timestamp,
)
from crm.search.schema import KINDS
from crm.search.store import IndexStore

_FULL_SORT_MAX = 1000  # up to this many matches, ties are broken newest first
_COUNT_CAP = 5000  # matches counted for totals and facets; beyond it they read "5000+"
_BY_SCORE_THEN_NEWEST = sorting.MultiFacet(
    [sorting.ScoreFacet(), sorting.FieldFacet("updated", reverse=True)]
)


@dataclass(frozen=True, slots=True)
class Budgets:
    """Time budgets of a results page (seconds; None: no budget, every match is seen).

    Two words common in a million notes match tens of thousands of records, and Whoosh
    scores and counts each of them in Python (~1 s); past the budget the page shows the best
    of the matches scored so far and counts read "N+". However slow the machine, a count
    walks ``walk_before`` matches (so counts of up to 2,000 are exact) and scoring sees
    ``score_before`` matches of any team (each costs ~50 us in Whoosh) before a budget applies.
    """

    score_s: float | None = 0.025
    count_s: float | None = 0.010
    suggest_s: float | None = 0.025  # as-you-type: the best of the prefix matches in 25 ms
    walk_before: int = 2000
    score_before: int = 256


DEFAULT_BUDGETS = Budgets()
# No time budgets: results depend on the index alone, never on the machine's speed (tests).
UNBOUNDED = Budgets(score_s=None, count_s=None, suggest_s=None)


class SearchEngine(IndexStore):
    """The search index of all teams: every query is confined to one team (in ``_run``)."""

    def __init__(
        self, path: str | Path, *, procs: int = 1, budgets: Budgets = DEFAULT_BUDGETS
    ) -> None:
        super().__init__(path, procs=procs)
        self.budgets = budgets
        self._kind_column: tuple[Any, Any] | None = None  # (searcher, its "kind" column)
        # (segment id, team_id) -> that team's document numbers in the segment
        self._team_docs: dict[tuple[str, int], frozenset[int]] = {}

    def warm(self, team_ids: Iterable[int] = ()) -> None:
        """Open the searcher and read what a first search would (each web process at start)."""
        with self._lock:
            searcher = self._current_searcher()
            if searcher.doc_count_all() == 0:
                return  # an empty (or rebuilding) index has no columns to read
            self._kinds_column(searcher)
            for team_id in team_ids:
                self._team_filter(searcher, team_id)

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
                budget_s=self.budgets.suggest_s,
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
        matches not in ``named`` or ``budgets.score_before`` matches of any team were seen.
        """
        deadline = time.perf_counter() + budget_s if budget_s is not None else None
        team = self._team_filter(searcher, team_id)
        if "collapse" in kwargs:
            # Whoosh's collapsing collector and its filter collector bypass each other
            # when stacked, so one collector does both.
            collapse, per_key = kwargs.pop("collapse"), kwargs.pop("collapse_limit", 1)
            collector: Any = _TeamCollapseCollector(
                searcher.collector(**kwargs),
                collapse,
                per_key,
                team,
                deadline,
                self.budgets.score_before,
            )
        else:
            if count_kinds:  # every match must reach the collector: no block skipping
                kwargs["optimize"] = False
            collector = _TeamCollector(
                searcher.collector(**kwargs),
                team,
                deadline,
                self.budgets.score_before,
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
            score_s = self.budgets.score_s
            budget = (
                None if score_s is None else max(0.0, score_s - (time.perf_counter() - started))
            )
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
        count_s, walk_before = self.budgets.count_s, self.budgets.walk_before
        deadline = time.perf_counter() + count_s if count_s is not None else None
        seen = 0
        for walked, docnum in enumerate(_matching_docs(searcher, query), 1):
            if (
                deadline is not None
                and not walked & 7
                and walked >= walk_before
                and time.perf_counter() > deadline
            ):
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
