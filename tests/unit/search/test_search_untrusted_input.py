"""Whatever a user types, search and suggest answer (possibly with nothing) and never raise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.search.engine import UNBOUNDED, SearchEngine
from crm.search.results import SearchPage

NASTY = [
    "",
    "   ",
    '"',
    '"unbalanced phrase',
    "(",
    "((a)",
    ")",
    ":",
    "kind:",
    ":deal",
    "*",
    "jo*",
    "?",
    "AND",
    "OR OR",
    "NOT",
    "a AND NOT",
    "tag:",
    "owner:abc",
    "title:[a TO",
    "x^",
    "\\",
    "\x00",
    "é" * 300,
    "word " * 2000,
    "+" * 50,
    "@",
    "a@",
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchEngine]:
    engine = SearchEngine(Path(tmp_path_factory.mktemp("index")), budgets=UNBOUNDED)
    engine.open_or_create()
    engine.update(
        [
            {
                "team_id": 1,
                "kind": "contact",
                "id": 1,
                "title": "John Smith",
                "emails": ["john@acme.com"],
                "phones": ["555 123 4567"],
                "body": "deal notes",
            },
            {"team_id": 1, "kind": "deal", "id": 2, "title": "Big deal", "tags": ["vip"]},
        ]
    )
    yield engine
    engine.close()


def assert_answers(engine: SearchEngine, q: str) -> None:
    page = engine.search(1, q)
    assert isinstance(page, SearchPage)
    assert page.total >= len(page.hits)
    assert isinstance(engine.suggest(1, q), dict)


@pytest.mark.parametrize("q", NASTY)
def test_nasty_queries_do_not_raise(engine: SearchEngine, q: str) -> None:
    assert_answers(engine, q)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=80))
def test_arbitrary_text_does_not_raise(engine: SearchEngine, q: str) -> None:
    assert_answers(engine, q)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(
            [
                '"',
                "(",
                ")",
                ":",
                "*",
                "kind:",
                "tag:",
                "owner:",
                "AND",
                "OR",
                "NOT",
                "john",
                "deal",
                "-",
                "+",
                "^",
                "~",
                "@",
                "[",
                "]",
                "{",
                "}",
                " ",
            ]
        ),
        max_size=12,
    ).map("".join)
)
def test_query_syntax_soup_does_not_raise(engine: SearchEngine, q: str) -> None:
    assert_answers(engine, q)


def test_repeated_filters_count_once_and_are_bounded() -> None:
    from crm.search.query import MAX_FILTERS, _split_filters

    words, query = _split_filters("big " + "kind:deal " * 500 + "tag:vip TAG:VIP")
    assert words == "big"
    assert len(query.subqueries) == 2  # kind:deal and tag:vip, once each
    _, query = _split_filters(" ".join(f"tag:t{n}" for n in range(100)))
    assert len(query.subqueries) == MAX_FILTERS


def test_many_filter_tokens_still_answer(engine: SearchEngine) -> None:
    assert [h.id for h in engine.search(1, "big " + "tag:vip " * 20).hits] == [2]
