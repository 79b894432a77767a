"""Behaviour of the search engine (crm.search.engine and its parts) on small in-memory corpora."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from whoosh import index

from crm.search import schema as schema_module
from crm.search.engine import UNBOUNDED, Budgets, SearchEngine

T1, T2 = 1, 2


def doc(kind: str, id: int, team_id: int = T1, **fields: Any) -> dict[str, Any]:
    return {"team_id": team_id, "kind": kind, "id": id, **fields}


def found(page: Any) -> list[tuple[str, int]]:
    return [(hit.kind, hit.id) for hit in page.hits]


# Every budget already spent: scoring and counting stop as soon as their floors are reached.
OUT_OF_TIME = Budgets(score_s=0.0, count_s=0.0, suggest_s=0.0, walk_before=64, score_before=64)


def suggested(groups: dict[str, list[Any]]) -> set[tuple[str, int]]:
    return {(hit.kind, hit.id) for hits in groups.values() for hit in hits}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[SearchEngine]:
    # No time budgets: what a search finds must not depend on how loaded the machine is.
    engine = SearchEngine(tmp_path / "index", budgets=UNBOUNDED)
    assert engine.open_or_create() is True  # nothing there yet
    yield engine
    engine.close()


@pytest.fixture
def crm(engine: SearchEngine) -> SearchEngine:
    """A small team-1 corpus; team 2 holds look-alikes that must never leak."""
    engine.update(
        [
            doc(
                "contact",
                1,
                title="John Smith",
                emails=["John.Smith@acme.com"],
                phones=["+1 (555) 123-4567"],
                company="Acme Corp",
                owner=3,
                tags=["VIP", "renewal"],
                url="/contacts/1",
                subtitle="CTO at Acme",
            ),
            doc("contact", 2, title="Joanna Baker", emails=["jb@globex.io"], owner=4),
            doc("contact", 3, title="Sam Smithers", emails=["sam@initech.com"], owner=4),
            doc("company", 4, title="Acme Corp", tags=["enterprise"]),
            doc(
                "note",
                5,
                title="Kickoff",
                body="Discussed the quarterly budget with Baker. Two meetings planned.",
                owner=3,
            ),
            doc("deal", 6, title="Website redesign", body="Budget is quarterly.", owner=3),
            doc("contact", 1, team_id=T2, title="John Smith", emails=["john.smith@acme.com"]),
            doc("note", 2, team_id=T2, title="Smith budget", body="quarterly budget meetings"),
        ]
    )
    return engine


def test_exact_name_outranks_a_body_mention(engine: SearchEngine) -> None:
    engine.update(
        [
            doc("note", 1, title="Lunch", body="Harriet said Baker will call back about Baker"),
            doc("contact", 2, title="Harriet Baker"),
        ]
    )
    assert found(engine.search(T1, "baker")) == [("contact", 2), ("note", 1)]


def test_email_and_company_outrank_body(engine: SearchEngine) -> None:
    engine.update(
        [
            doc("note", 1, body="globex globex globex sent the contract"),
            doc("contact", 2, title="Ann Lee", company="Globex"),
            doc("contact", 3, title="Bo Chan", emails=["bo@globex.io"]),
        ]
    )
    assert found(engine.search(T1, "globex"))[-1] == ("note", 1)


def test_suggest_matches_name_prefixes_as_you_type(crm: SearchEngine) -> None:
    assert suggested(crm.suggest(T1, "jo")) == {("contact", 1), ("contact", 2)}
    assert suggested(crm.suggest(T1, "smi")) == {("contact", 1), ("contact", 3)}
    assert suggested(crm.suggest(T1, "john sm")) == {("contact", 1)}
    assert crm.suggest(T1, "xq") == {}


def test_suggest_groups_by_kind_and_caps_each_kind(engine: SearchEngine) -> None:
    engine.update([doc("contact", i, title=f"Acme person {i}") for i in range(8)])
    engine.update([doc("company", 100, title="Acme Corp")])
    groups = engine.suggest(T1, "acm", per_kind=3)
    assert len(groups["contact"]) == 3
    assert [hit.id for hit in groups["company"]] == [100]


def test_full_page_also_matches_prefixes(crm: SearchEngine) -> None:
    assert ("contact", 2) in found(crm.search(T1, "joa"))


def test_exact_email_address(crm: SearchEngine) -> None:
    assert found(crm.search(T1, "john.smith@ACME.com")) == [("contact", 1)]
    assert suggested(crm.suggest(T1, "john.smith@acme.com")) == {("contact", 1)}
    assert suggested(crm.suggest(T1, "sam@ini")) == {("contact", 3)}


def test_email_parts(crm: SearchEngine) -> None:
    assert found(crm.search(T1, "globex")) == [("contact", 2)]
    assert found(crm.search(T1, "jb")) == [("contact", 2)]


@pytest.mark.parametrize("typed", ["(555) 123-4567", "+1 555 123 4567", "5551234567", "123-4567"])
def test_phone_in_any_format(crm: SearchEngine, typed: str) -> None:
    assert found(crm.search(T1, typed)) == [("contact", 1)]
    assert suggested(crm.suggest(T1, typed)) == {("contact", 1)}


def test_body_is_stemmed(crm: SearchEngine) -> None:
    assert found(crm.search(T1, "meeting")) == [("note", 5)]
    assert found(crm.search(T1, "discussing plans")) == [("note", 5)]


def test_quoted_phrase_requires_adjacent_words(crm: SearchEngine) -> None:
    assert found(crm.search(T1, '"quarterly budget"')) == [("note", 5)]
    assert sorted(found(crm.search(T1, "quarterly budget"))) == [("deal", 6), ("note", 5)]


def test_phrase_words_must_be_in_order(engine: SearchEngine) -> None:
    engine.update(
        [
            doc("note", 1, body="The renewal of the contract; renewal calls are weekly."),
            doc("note", 2, body="Calls about a contract renewal, signed."),
            doc("contact", 3, title="Renewal Callahan"),
        ]
    )
    assert found(engine.search(T1, '"renewal calls"')) == [("note", 1)]
    assert found(engine.search(T1, '"calls renewal"')) == []
    # Stop words do not break a phrase (they are not indexed), stemming applies.
    assert found(engine.search(T1, '"renewals of the contracts"')) == [("note", 1)]
    assert found(engine.search(T1, '"renewal callahan"')) == [("contact", 3)]


def test_a_phrase_snippet_marks_its_words(engine: SearchEngine) -> None:
    engine.update([doc("note", 1, body="We agreed. Renewal calls start in May.")])
    (hit,) = engine.search(T1, '"renewal calls"').hits
    assert ">Renewal</mark>" in hit.snippet and ">calls</mark>" in hit.snippet


@pytest.mark.parametrize(
    "text",
    [
        "Met José at the expo; discussing Q3 plans with ACME's CTO (jo.smith@acme.com).",
        "The and of a to: stop words, x y z single letters, v1.2.3 and 3.14 numbers",
        "Ünïcödé İstanbul straße ǅemal ﬁne — ½ tab\there  twice  spaces",
        "a*b wild*card tokens, under_score, O'Brien-Smith, 555-123-4567",
        "",
    ],
)
def test_fast_indexing_matches_the_analyzers(text: str) -> None:
    for name in ("title", "company", "body", "title_prefix"):
        field_type = schema_module.SCHEMA[name]
        fast = {(t, f, w) for t, f, w, _ in field_type.index(text)}
        slow = {
            (t.encode("utf-8"), f, w)
            for t, f, w, _ in field_type.format.word_values(text, field_type.analyzer, mode="index")
        }
        assert fast == slow, name


def test_phrase_over_long_bodies(engine: SearchEngine) -> None:
    # Gaps of every size between repeats of the phrase, 46 included.
    engine.update(
        [
            doc(
                "note",
                gap,
                body=" ".join(["renewal", "call", *["filler"] * gap, "renewal", "call"]),
            )
            for gap in range(40, 60)
        ]
    )
    assert engine.search(T1, '"renewal call"').total == 20


def test_filters_in_the_query(crm: SearchEngine) -> None:
    assert found(crm.search(T1, "kind:deal budget")) == [("deal", 6)]
    assert sorted(found(crm.search(T1, "owner:4"))) == [("contact", 2), ("contact", 3)]
    assert found(crm.search(T1, "tag:vip")) == [("contact", 1)]
    assert found(crm.search(T1, "tag:VIP smith")) == [("contact", 1)]


def test_unknown_field_prefix_is_searched_as_words(crm: SearchEngine) -> None:
    page = crm.search(T1, "quarterly:budget")
    assert sorted(found(page)) == [("deal", 6), ("note", 5)] and page.relaxed is False
    # Not a filter: no way to reach another team's documents through the query text.
    assert all(hit.kind != "note" or hit.id != 2 for hit in crm.search(T1, "team_id:2").hits)


def test_kinds_argument_filters_but_facets_count_every_kind(crm: SearchEngine) -> None:
    page = crm.search(T1, "budget", kinds=["deal"])
    assert found(page) == [("deal", 6)]
    assert page.total == 1
    assert page.facets == {"note": 1, "deal": 1}


def test_facets_count_matches_per_kind(crm: SearchEngine) -> None:
    page = crm.search(T1, "acme")
    assert page.facets == {"contact": 1, "company": 1}
    assert page.total == 2


def test_out_of_time_pages_still_show_hits(
    engine: SearchEngine,
) -> None:
    engine.update([doc("note", i, body=f"common words {i}") for i in range(300)])
    engine.update([doc("note", 1000, team_id=T2, body="common words")])
    engine.budgets = OUT_OF_TIME
    page = engine.search(T1, "common words")
    assert page.hits and page.partial and page.capped
    assert ("note", 1000) not in found(page)
    assert page.facets.get("note", 0) >= 1
    assert engine.search(T1, "common words", kinds=["note"]).hits


def test_a_named_record_leads_an_out_of_time_page(
    engine: SearchEngine,
) -> None:
    # Body mentions are indexed (and walked) before the contact, and scoring stops
    # after the first 64 matches: the contact named Ramirez must still come first.
    engine.update(
        [doc("note", i, title="Call", body=f"Ramirez asked about renewal {i}") for i in range(300)]
    )
    engine.update(
        [
            doc("contact", 900, team_id=T2, title="Ana Ramirez"),
            doc("company", 901, title="Ramirez Logistics"),
            doc("contact", 902, title="Ana Ramirez", emails=["ana@ramirez.example"]),
        ]
    )
    engine.budgets = OUT_OF_TIME

    first = engine.search(T1, "ramirez", pagelen=10)
    assert first.partial
    assert found(first)[:2] == [("contact", 902), ("company", 901)]
    assert len(first.hits) == 10
    assert first.facets["contact"] >= 1 and first.facets["company"] >= 1
    second = engine.search(T1, "ramirez", page=2, pagelen=10)
    assert len(second.hits) == 10
    assert not set(found(first)) & set(found(second))  # no record on two pages
    # The other team's Ramirez never shows, nor do unrelated names.
    everything = found(engine.search(T1, "ramirez", pagelen=400))
    assert ("contact", 900) not in everything
    assert found(engine.search(T1, "ana ramirez"))[0] == ("contact", 902)
    assert found(engine.search(T1, "ramirez", kinds=["contact"])) == [("contact", 902)]
    assert found(engine.search(T1, "ramirez", kinds=["note"]))[0][0] == "note"


def test_paging(engine: SearchEngine) -> None:
    start = datetime(2025, 1, 1)
    engine.update(
        [doc("task", i, title="Follow up", updated=start + timedelta(days=i)) for i in range(25)]
    )
    first, last = (
        engine.search(T1, "follow", pagelen=10),
        engine.search(T1, "follow", page=3, pagelen=10),
    )
    assert first.total == last.total == 25
    # Equal scores: newest first.
    assert [hit.id for hit in first.hits] == list(range(24, 14, -1))
    assert [hit.id for hit in last.hits] == list(range(4, -1, -1))
    assert engine.search(T1, "follow", page=9).hits == []


def test_hits_carry_display_fields_and_safe_snippets(engine: SearchEngine) -> None:
    engine.update(
        [
            doc(
                "email",
                9,
                title="Re: offer",
                subtitle="from Ann",
                url="/emails/9",
                body="Please <b>sign</b> the offer & reply",
            )
        ]
    )
    (hit,) = engine.search(T1, "sign").hits
    assert (hit.title, hit.subtitle, hit.url) == ("Re: offer", "from Ann", "/emails/9")
    assert "<mark" in hit.snippet and ">sign</mark>" in hit.snippet
    assert "&lt;b&gt;" in hit.snippet and "<b>" not in hit.snippet
    assert hit.score > 0


def test_stored_body_is_truncated(engine: SearchEngine) -> None:
    engine.update([doc("note", 1, body="word " * 5000 + "needle")])
    (hit,) = engine.search(T1, "needle").hits  # the whole body is indexed...
    assert len(hit.snippet) <= 400  # ...but only its start is stored for snippets


def test_or_fallback_when_all_words_find_nothing(crm: SearchEngine) -> None:
    page = crm.search(T1, "baker zebra")
    assert page.relaxed is True
    assert ("contact", 2) in found(page)
    assert crm.search(T1, "baker").relaxed is False


def test_typo_tolerance_on_names_as_last_resort(engine: SearchEngine) -> None:
    engine.update([doc("contact", 1, title="Jonathan Pryce")])
    page = engine.search(T1, "jonathon")
    assert found(page) == [("contact", 1)] and page.relaxed is True
    assert engine.search(T1, "pryse").total == 1
    assert engine.search(T1, "prys").hits == []  # too short for a one-letter guess


def test_update_replaces_the_record(crm: SearchEngine) -> None:
    assert found(crm.search(T1, "joanna")) == [("contact", 2)]
    crm.update([doc("contact", 2, title="Joanna Walsh")])
    assert crm.search(T1, "baker", kinds=["contact"]).hits == []
    assert found(crm.search(T1, "joanna")) == [("contact", 2)]  # once, not twice


def test_repeated_updates_never_duplicate(engine: SearchEngine) -> None:
    # Enough commits for Whoosh to merge segments under a kept-open searcher.
    for version in range(15):
        engine.update([doc("contact", 1, title=f"Pat Quinn v{version}")])
        assert engine.search(T1, "quinn").total == 1


def test_delete_removes(crm: SearchEngine) -> None:
    crm.update([], deletes=[(T1, "contact", 3)])
    assert crm.search(T1, "smithers").hits == []
    assert crm.suggest(T1, "sam") == {}


def test_teams_never_see_each_other(crm: SearchEngine) -> None:
    for q in ["smith", "budget", "quarterly budget", '"quarterly budget"', "john.smith@acme.com"]:
        team2 = crm.search(T2, q)
        assert team2.hits and all(hit.id in (1, 2) for hit in team2.hits), q
        assert set(team2.facets) <= {"contact", "note"}
    assert found(crm.search(T2, "meetings")) == [("note", 2)]
    assert suggested(crm.suggest(T2, "smi")) == {("contact", 1), ("note", 2)}
    assert crm.search(3, "smith").hits == [] and crm.suggest(3, "smi") == {}


def test_schema_version_change_asks_for_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "index"
    first = SearchEngine(path, budgets=UNBOUNDED)
    first.open_or_create()
    first.update([doc("contact", 1, title="Ada Lovelace")])
    first.close()

    again = SearchEngine(path, budgets=UNBOUNDED)
    assert again.open_or_create() is False
    assert found(again.search(T1, "ada")) == [("contact", 1)]
    again.close()

    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", schema_module.SCHEMA_VERSION + 1)
    newer = SearchEngine(path, budgets=UNBOUNDED)
    assert newer.open_or_create() is True
    assert newer.search(T1, "ada").hits == []  # stale index dropped, not misread
    newer.close()


def test_search_before_open_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        SearchEngine(tmp_path).search(T1, "x")


def test_rebuild_swaps_in_a_new_index_while_searches_keep_answering(
    engine: SearchEngine, tmp_path: Path
) -> None:
    engine.update([doc("contact", 1, title="Old Timer")])
    answers: list[int] = []
    errors: list[BaseException] = []
    done, answering = threading.Event(), threading.Event()

    def keep_searching() -> None:
        while not done.is_set():
            try:
                answers.append(engine.search(T1, "timer").total)
            except BaseException as exc:  # noqa: BLE001 - reported by the assert below
                errors.append(exc)
            answering.set()

    reader = threading.Thread(target=keep_searching)
    reader.start()
    progress: list[int] = []
    new_docs = [doc("contact", i, title=f"Timer {i}") for i in range(2, 302)]
    try:
        assert answering.wait(60), "the reader never searched"
        engine.rebuild(iter(new_docs), total=len(new_docs), progress=progress.append)
    finally:
        done.set()
        reader.join()

    assert errors == []
    assert answers and set(answers) <= {1, 300}
    assert engine.search(T1, "old").hits == []
    assert engine.search(T1, "timer").total == 300
    assert progress[-1] == 300 and progress == sorted(progress) and len(progress) > 10
    # Only the live generation and the one before it are kept on disk.
    assert len(list((tmp_path / "index").glob("gen-*"))) == 2


def test_another_engine_on_the_same_path_follows_a_rebuild(
    engine: SearchEngine, tmp_path: Path
) -> None:
    other = SearchEngine(
        tmp_path / "index", budgets=UNBOUNDED
    )  # e.g. a web worker while RQ rebuilds
    assert other.open_or_create() is False
    engine.rebuild([doc("contact", 1, title="Grace Hopper")])
    assert found(other.search(T1, "hopper")) == [("contact", 1)]
    engine.update([doc("contact", 2, title="Grace Kelly")])
    assert other.search(T1, "grace").total == 2
    other.close()


def test_rebuild_with_several_processes(tmp_path: Path) -> None:
    engine = SearchEngine(tmp_path, procs=2, budgets=UNBOUNDED)
    engine.open_or_create()
    engine.rebuild([doc("contact", i, title=f"Name{i} Smith", body="met") for i in range(300)])
    assert engine.search(T1, "smith").total == 300
    assert found(engine.search(T1, "name7"))[0] == ("contact", 7)  # exact before prefix
    engine.close()


def test_failed_rebuild_leaves_the_live_index_alone(engine: SearchEngine) -> None:
    engine.update([doc("contact", 1, title="Keep Me")])

    def broken() -> Any:
        yield doc("contact", 2, title="Half Done")
        raise ConnectionError("database went away")

    with pytest.raises(ConnectionError):
        engine.rebuild(broken())
    assert found(engine.search(T1, "keep")) == [("contact", 1)]
    assert engine.search(T1, "half").hits == []


def test_optimize_merges_segments(engine: SearchEngine, tmp_path: Path) -> None:
    for i in range(5):
        engine.update([doc("contact", i, title=f"Person {i}")])
    engine.optimize()
    live = tmp_path / "index" / (tmp_path / "index" / "current").read_text()
    with index.open_dir(live).reader() as reader:
        assert reader.is_atomic()  # one segment
    assert engine.search(T1, "person").total == 5


def test_unknown_kind_is_rejected(engine: SearchEngine) -> None:
    with pytest.raises(ValueError):
        engine.update([doc("invoice", 1, title="Nope")])
