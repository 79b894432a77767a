"""Rebuild and query-latency benchmark for crm.search on synthetic CRM data.

    python bench/search_bench.py --contacts 100000 --activities 100000
    python bench/search_bench.py --contacts 2000 --activities 5000 --queries 50   # quick
    python bench/search_bench.py --contacts 100000 --activities 1000000 --dir DIR  # keep it
    python bench/search_bench.py --contacts 100000 --activities 1000000 --reuse DIR  # queries only

With ``--dir DIR`` the built index is kept in DIR and the rebuild's numbers are written to
DIR/bench_rebuild.txt; ``--reuse DIR`` skips data generation and the rebuild and only runs
the queries (same --contacts/--activities, so the query strings match the data). Every
timing prints wall time next to CPU time, plus the load average: wall time is inflated on a
shared machine, CPU time much less so.

Documents are spread over 3 teams. Note bodies draw from a Zipf-weighted vocabulary, so
there are common words, two-word phrases and rare words to look for. Latencies are for a
kept-open engine, i.e. what a web worker sees after its first query.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm.search.engine import SearchEngine

TEAMS = (1, 2, 3)
ACTIVITY_KINDS = ("note", "call", "meeting", "email", "task", "deal")
FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda"]
FIRST += ["William", "Elizabeth", "David", "Barbara", "Joseph", "Jessica", "Thomas", "Sarah"]
FIRST += ["Jonathan", "Joanna", "Samuel", "Katherine", "José", "Zoë", "Björn", "Chloé", "Søren"]
FIRST += ["Wei", "Mei", "Hiroshi", "Yuki", "Priya", "Arjun", "Fatima", "Omar", "Ingrid", "Luis"]
SYLLABLES = ["ka", "ri", "to", "mo", "ne", "sa", "lu", "vi", "de", "po", "ra", "mi", "zo"]
SYLLABLES += ["be", "ta", "lo", "fi", "gu", "he", "ni", "ar", "el", "on", "us", "in"]


def pseudo_words(rng: random.Random, n: int, syllables: tuple[int, int]) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choices(SYLLABLES, k=rng.randint(*syllables))))
    return sorted(words)


class Corpus:
    """Deterministic synthetic CRM records plus the facts the queries need."""

    def __init__(self, contacts: int, activities: int, seed: int = 7) -> None:
        self.contacts, self.activities = contacts, activities
        rng = random.Random(seed)
        self.last_names = [w.capitalize() for w in pseudo_words(rng, 3000, (2, 4))]
        self.companies = [
            f"{w.capitalize()} {s}"
            for w, s in zip(
                pseudo_words(rng, 4000, (2, 3)),
                itertools.cycle(["Inc", "LLC", "GmbH", "Group", "Labs", "Partners", "Ltd"]),
            )
        ]
        self.vocab = pseudo_words(rng, 20000, (2, 5))
        # Zipf weights: a few very common words, a long tail of rare ones.
        self.weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(self.vocab))))
        self.seed = seed

    def _person(self, rng: random.Random, i: int) -> tuple[str, str, str, str]:
        first, last = rng.choice(FIRST), rng.choice(self.last_names)
        company = self.companies[i % len(self.companies)]
        domain = company.split()[0].lower() + ".com"
        email = f"{first.lower()}.{last.lower()}{i}@{domain}"
        return first, last, company, email

    @staticmethod
    def _phone(rng: random.Random) -> str:
        area, mid, end = rng.randint(200, 999), rng.randint(200, 999), rng.randint(0, 9999)
        return (
            rng.choice(["({} {}-{:04d}", "+1 {} {} {:04d}", "{}{}{:04d}"])
            .format(area, mid, end)
            .replace("({} ", "(")
        )

    def _text(self, rng: random.Random, n: int) -> str:
        return " ".join(rng.choices(self.vocab, cum_weights=self.weights, k=n))

    def documents(self) -> Iterator[dict[str, Any]]:
        rng = random.Random(self.seed)
        start = datetime(2024, 1, 1)
        for i in range(self.contacts):
            first, last, company, email = self._person(rng, i)
            yield {
                "team_id": TEAMS[i % len(TEAMS)],
                "kind": "contact",
                "id": i,
                "title": f"{first} {last}",
                "emails": [email],
                "phones": [self._phone(rng)],
                "company": company,
                "body": self._text(rng, rng.randint(0, 30)),
                "owner": rng.randint(1, 20),
                "tags": rng.sample(["vip", "lead", "customer", "partner", "churned"], 2),
                "url": f"/contacts/{i}",
                "subtitle": company,
                "updated": start + timedelta(minutes=i),
            }
        for i in range(self.activities):
            kind = ACTIVITY_KINDS[i % len(ACTIVITY_KINDS)]
            first, last, company, _ = self._person(rng, rng.randrange(max(1, self.contacts)))
            yield {
                "team_id": TEAMS[i % len(TEAMS)],
                "kind": kind,
                "id": i,
                "title": self._text(rng, rng.randint(2, 6)).capitalize(),
                "company": company,
                "body": f"{first} {last}: " + self._text(rng, rng.randint(20, 120)),
                "owner": rng.randint(1, 20),
                "url": f"/{kind}s/{i}",
                "subtitle": f"with {first} {last}",
                "updated": start + timedelta(minutes=i),
            }


def queries(corpus: Corpus, n: int) -> dict[str, list[tuple[int, str]]]:
    """Query strings per scenario, taken from the documents so that they hit."""
    docs = list(
        itertools.islice(
            corpus.documents(), 0, None, max(1, (corpus.contacts + corpus.activities) // 5000)
        )
    )
    contacts = [d for d in docs if d["kind"] == "contact"] or docs
    notes = [d for d in docs if d["kind"] != "contact"] or docs
    freq = Counter(w for d in notes for w in d["body"].split())
    rare = [w for w, c in freq.items() if c == 1 and w.islower()] or list(freq)
    common = [w for w, _ in freq.most_common(200)]
    rng = random.Random(1)

    def phrase(d: dict[str, Any]) -> str:
        words = d["body"].split(": ", 1)[-1].split()
        at = rng.randrange(max(1, len(words) - 1))
        return '"' + " ".join(words[at : at + 2]) + '"'

    picks: dict[str, Callable[[], tuple[int, str]]] = {
        "suggest name prefix": lambda: (
            (c := rng.choice(contacts))["team_id"],
            c["title"].split()[rng.randrange(2)][:3],
        ),
        "email address": lambda: ((c := rng.choice(contacts))["team_id"], c["emails"][0]),
        "two-word phrase": lambda: ((d := rng.choice(notes))["team_id"], phrase(d)),
        "rare word": lambda: (rng.choice(TEAMS), rng.choice(rare)),
        "full page (2 words)": lambda: (
            rng.choice(TEAMS),
            f"{rng.choice(common)} {rng.choice(common)}",
        ),
    }
    return {name: [pick() for _ in range(n)] for name, pick in picks.items()}


def percentile(samples: list[float], pct: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(pct) - 1]


def time_queries(
    engine: SearchEngine, scenario: str, qs: list[tuple[int, str]]
) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds per query."""
    run: Callable[[int, str], Any] = (
        engine.suggest if scenario.startswith("suggest") else engine.search
    )
    for team, q in qs[:5]:  # warm caches
        run(team, q)
    wall, cpu = [], []
    for team, q in qs:
        c0, t0 = time.process_time(), time.perf_counter()
        run(team, q)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return wall, cpu


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def children_cpu() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200, help="per scenario")
    parser.add_argument("--dir", type=Path, help="keep the index in DIR (default: a temp dir)")
    parser.add_argument(
        "--reuse", type=Path, metavar="DIR", help="query an index built with --dir DIR"
    )
    parser.add_argument("--procs", type=int, default=2, help="indexing processes for rebuild")
    parser.add_argument("--only", help="run only scenarios whose name contains this")
    args = parser.parse_args()

    path = args.reuse or args.dir or Path(tempfile.mkdtemp(prefix="rapport-search-bench-"))
    corpus = Corpus(args.contacts, args.activities)
    total = args.contacts + args.activities
    engine = SearchEngine(path, procs=args.procs)
    print(f"{args.contacts:,} contacts + {args.activities:,} activities, 3 teams -> {path}")
    print(f"start: {load()}")
    record = path / "bench_rebuild.txt"
    if args.reuse:
        if engine.open_or_create():
            sys.exit(f"{path} holds no index of this schema version: build it with --dir")
        if record.exists():
            print("as built: " + record.read_text().strip().replace("\n", "\n  "))
    else:
        engine.open_or_create()
        c0, t0 = children_cpu(), time.perf_counter()
        engine.rebuild(
            corpus.documents(),
            total=total,
            progress=lambda n: print(
                f"  indexed {n:,} ({time.perf_counter() - t0:.0f} s, {load()})",
                file=sys.stderr,
                flush=True,
            ),
        )
        built, cpu = time.perf_counter() - t0, children_cpu() - c0
        line = (
            f"rebuild: {built:.1f} s wall ({total / built:,.0f} docs/s), "
            f"{cpu:.1f} s CPU (all processes), index {dir_size_mb(path):.0f} MB on disk, "
            f"--procs {args.procs}, {args.contacts:,} contacts + {args.activities:,} "
            f"activities, {load()} at the end"
        )
        print(line)
        if args.dir:
            record.write_text(line + "\n")

        t0 = time.perf_counter()
        engine.update([next(corpus.documents())])
        print(f"one update + commit + reopen: {(time.perf_counter() - t0) * 1000:.0f} ms")

    print(f"\n{'query':<24}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'cpu p50':>9}{'cpu p95':>9}")
    for scenario, qs in queries(corpus, args.queries).items():
        if args.only and args.only not in scenario:
            continue
        wall, cpu = time_queries(engine, scenario, qs)
        print(
            f"{scenario:<24}{percentile(wall, 50):>9.1f}{percentile(wall, 95):>9.1f}"
            f"{max(wall):>9.1f}{percentile(cpu, 50):>9.1f}{percentile(cpu, 95):>9.1f}"
        )
    print(f"end: {load()}")
    engine.close()
    if args.dir is None and args.reuse is None:
        shutil.rmtree(path)


if __name__ == "__main__":
    main()
