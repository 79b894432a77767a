"""Reading results out of the index: collectors that let only one team's documents through
(and stop at a deadline), and hits with their highlighted snippets."""

from __future__ import annotations

import bisect
import html
import time
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from typing import Any

from whoosh.collectors import CollapseCollector, FilterCollector
from whoosh.highlight import ContextFragmenter, HtmlFormatter
from whoosh.idsets import DocIdSet
from whoosh.query import Query

_SNIPPET_CHARS = 200


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
    capped: bool = False  # counting stopped early (engine._COUNT_CAP): total and facets are "N+"
    partial: bool = False  # scoring ran out of time: best hits of the matches scored so far


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
        self,
        child: Any,
        team: _TeamDocs,
        deadline: float | None,
        score_before: int,
        kinds: Any = None,
    ) -> None:
        super().__init__(child, allow=team)
        self.deadline = deadline
        self.score_before = score_before  # matches of any team always seen before a deadline
        self.timed_out = False
        self.kinds = kinds  # a "kind" column reader: count the team's matches per kind
        self.kind_counts: dict[str, int] = {}
        self.seen = self.collected = 0  # matches of any team / of the team, all segments
        self.min_hits = getattr(child, "limit", None) or score_before
        self.named: Container[int] = ()  # already on the page: not counted in min_hits

    def collect_matches(self) -> None:
        if self.timed_out:
            return
        child, team, offset, deadline = self.child, self._allow, self.offset, self.deadline
        kinds, counts = self.kinds, self.kind_counts
        # Past the deadline, stop once a full page was collected (or score_before
        # matches of any team were seen): matches of two common words are sparse and each
        # costs a leapfrog over big posting lists, so a fixed 256 cost 10-20 ms alone.
        full, score_before = self.min_hits, self.score_before
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
                and (self.collected >= full or self.seen >= score_before)
                and time.perf_counter() > deadline
            ):
                self.timed_out = True
                return


class _TeamCollapseCollector(CollapseCollector):
    """CollapseCollector.collect_matches with the team filter and an optional deadline."""

    def __init__(
        self,
        child: Any,
        keyfacet: Any,
        limit: int,
        team: _TeamDocs,
        deadline: float | None,
        score_before: int,
    ) -> None:
        super().__init__(child, keyfacet, limit=limit)
        self.team = team
        self.deadline = deadline
        self.score_before = score_before
        self.timed_out = False

    def collect_matches(self) -> None:
        if self.timed_out:
            return
        child, team, deadline, score_before = (
            self.child,
            self.team,
            self.deadline,
            self.score_before,
        )
        matcher, offset = child.matcher, child.offset
        for seen, sub_docnum in enumerate(child.matches(), 1):
            if (
                deadline is not None
                and not seen & 7
                and seen >= score_before
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
