"""What a report page shows: sections of (chart, data table, CSV), each figure with a link.

Built from the numbers of crm.reports.queries; the CSV download of a section writes the very
rows of its table (plain numbers instead of formatted money), so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

from dateutil.relativedelta import relativedelta
from flask import url_for
from markupsafe import Markup

from crm.deals.money import format_money, input_value
from crm.reports import charts
from crm.reports.periods import ReportFilters
from crm.reports.queries import (
    KIND_KEYS,
    ActivityReport,
    Forecast,
    Funnel,
    Health,
    WinLoss,
    month_key,
)


@dataclass
class Cell:
    text: str
    raw: object = None  # the CSV value (None: the text)
    href: str | None = None
    num: bool = False


@dataclass
class Table:
    key: str
    caption: str
    head: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class Section:
    title: str
    table: Table
    charts: list[Markup] = field(default_factory=list)
    note: str = ""


def n(value: int, href: str | None = None) -> Cell:
    return Cell(f"{value:,}", value, href, True)


def money(minor: int, currency: str, href: str | None = None) -> Cell:
    return Cell(format_money(minor, currency), input_value(minor, currency) or "0", href, True)


def pct(value: float | None, href: str | None = None) -> Cell:
    if value is None:
        return Cell("—", "")
    return Cell(f"{value:.0%}", round(value, 4), href, True)


def days(value: float | None, href: str | None = None) -> Cell:
    if value is None:
        return Cell("—", "")
    return Cell(f"{value:.1f} days", round(value, 1), href, True)


def month_label(day: date) -> str:
    return day.strftime("%b %Y")


def _fixed_zone(f: ReportFilters):
    return timezone(timedelta(minutes=f.utc_offset_minutes))


def _month_moments(f: ReportFilters, month: date) -> dict:
    """The [from, to) moments of a local month, as the report bucketed it (fixed offset)."""
    zone = _fixed_zone(f)
    start = datetime.combine(month, datetime.min.time(), zone)
    end = datetime.combine(month + relativedelta(months=1), datetime.min.time(), zone)
    return {"closed_from": start.isoformat(), "closed_to": end.isoformat()}


def _week_moments(f: ReportFilters, monday: date) -> dict:
    """The [from, to) moments of a local Monday-to-Sunday week, as the report bucketed it."""
    start = datetime.combine(monday, datetime.min.time(), _fixed_zone(f))
    return {"from": start.isoformat(), "to": (start + timedelta(days=7)).isoformat()}


def _deals(f: ReportFilters, **args) -> str:
    return url_for("deals.list_view", **f.deal_args(), **args)


# --- Forecast --------------------------------------------------------------------------------


def forecast(f: ReportFilters, r: Forecast) -> list[Section]:
    table = Table(
        "forecast",
        "Open deals by expected close month, weighted by stage probability, and deals won",
        ["Month", "Currency", "Open deals", "Open value", "Weighted", "Won deals", "Won value"],
    )
    first_open = max(f.first, f.today)
    charts_ = []
    for cur in r.currencies:
        cats, open_v, weighted_v, won_v = [], [], [], []
        for month in r.months:
            key = month_key(month)
            o = r.open.get((key, cur))
            w = r.won.get((key, cur))
            last = month + relativedelta(months=1) - timedelta(days=1)
            open_href = _deals(
                f,
                status="open",
                currency=cur,
                close_from=max(month, first_open).isoformat(),
                close_to=min(last, f.after - timedelta(days=1)).isoformat(),
            )
            won_href = _deals(f, status="won", currency=cur, **_month_moments(f, month))
            table.rows.append(
                [
                    Cell(month_label(month), key),
                    Cell(cur),
                    n(o.count if o else 0, open_href),
                    money(o.value[cur] if o else 0, cur, open_href),
                    money(o.weighted[cur] if o else 0, cur, open_href),
                    n(w.count if w else 0, won_href),
                    money(w.value[cur] if w else 0, cur, won_href),
                ]
            )
            cats.append(month.strftime("%b %y"))
            open_v.append(o.value[cur] if o else 0)
            weighted_v.append(o.weighted[cur] if o else 0)
            won_v.append(w.value[cur] if w else 0)
        charts_.append(
            charts.bars(
                f"Forecast in {cur}: open, weighted and won by month",
                cats,
                [
                    charts.Series("Open", open_v),
                    charts.Series("Weighted", weighted_v),
                    charts.Series("Won", won_v),
                ],
                fmt=lambda v, cur=cur: format_money(int(v), cur, whole=True),
            )
        )
    apart = Table(
        "forecast-apart",
        "Open deals shown apart: expected close date passed, or no date",
        ["Which", "Currency", "Deals", "Value", "Weighted"],
    )
    yesterday = (f.today - timedelta(days=1)).isoformat()
    for label, data, args in (
        ("Close date passed", r.past, {"close_to": yesterday}),
        ("No close date", r.no_date, {"no_close": "1"}),
    ):
        for cur, a in sorted(data.items()):
            href = _deals(f, status="open", currency=cur, **args)
            apart.rows.append(
                [
                    Cell(label),
                    Cell(cur),
                    n(a.count, href),
                    money(a.value[cur], cur, href),
                    money(a.weighted[cur], cur, href),
                ]
            )
    return [
        Section("Forecast by month", table, charts_),
        Section("Not in the forecast", apart),
    ]


# --- Win/loss --------------------------------------------------------------------------------


def win_loss(f: ReportFilters, r: WinLoss) -> list[Section]:
    by_month = Table(
        "win-loss",
        "Deals won and lost by month of closing",
        ["Month", "Currency", "Won", "Won value", "Lost", "Lost value", "Win rate"],
    )
    for month in r.months:
        key = month_key(month)
        moments = _month_moments(f, month)
        for cur in r.currencies or []:
            w, lo = r.won.get((key, cur)), r.lost.get((key, cur))
            won_href = _deals(f, status="won", currency=cur, **moments)
            lost_href = _deals(f, status="lost", currency=cur, **moments)
            wc, lc = (w.count if w else 0), (lo.count if lo else 0)
            by_month.rows.append(
                [
                    Cell(month_label(month), key),
                    Cell(cur),
                    n(wc, won_href),
                    money(w.value[cur] if w else 0, cur, won_href),
                    n(lc, lost_href),
                    money(lo.value[cur] if lo else 0, cur, lost_href),
                    pct(
                        wc / (wc + lc) if wc + lc else None,
                        _deals(f, status="all", currency=cur, **moments),
                    ),
                ]
            )
    cats = [m.strftime("%b %y") for m in r.months]
    counts_chart = charts.bars(
        "Deals won and lost by month",
        cats,
        [
            charts.Series("Won", [r.counts("won", month_key(m)) for m in r.months]),
            charts.Series("Lost", [r.counts("lost", month_key(m)) for m in r.months]),
        ],
    )
    rate_chart = charts.line(
        "Win rate by month (won ÷ closed, all currencies)",
        cats,
        [r.win_rate(month_key(m)) for m in r.months],
    )
    period = {
        "closed_from": f.start.isoformat(),
        "closed_to": f.end.isoformat(),
    }
    summary = Table("win-loss-summary", "Over the whole period", ["Figure", "Currency", "Value"])
    summary.rows.append(
        [
            Cell("Win rate (deals won ÷ deals closed)"),
            Cell(""),
            pct(r.win_rate(), _deals(f, status="all", **period)),
        ]
    )
    for cur in r.currencies:
        avg = r.average_won(cur)
        summary.rows.append(
            [
                Cell("Average won deal"),
                Cell(cur),
                money(avg, cur, _deals(f, status="won", currency=cur, **period))
                if avg is not None
                else Cell("—", ""),
            ]
        )
    summary.rows.append(
        [
            Cell("Average sales cycle (created → won)"),
            Cell(""),
            days(r.cycle_days, _deals(f, status="won", **period)),
        ]
    )
    reasons = Table(
        "lost-reasons",
        "Why deals were lost, most frequent first",
        ["Reason", "Lost deals", "Value"],
    )
    for reason in r.reasons:
        href = _deals(f, status="lost", reason=reason.id or "none", **period)
        reasons.rows.append(
            [
                Cell(reason.name),
                n(reason.count, href),
                Cell(
                    ", ".join(format_money(v, c) for c, v in sorted(reason.value.items())),
                    "; ".join(
                        f"{c} {input_value(v, c) or '0'}" for c, v in sorted(reason.value.items())
                    ),
                    href,
                ),
            ]
        )
    reasons_chart = charts.bars(
        "Lost reasons",
        [x.name for x in r.reasons],
        [charts.Series("Lost deals", [x.count for x in r.reasons])],
    )
    return [
        Section("Won and lost by month", by_month, [counts_chart, rate_chart]),
        Section("Win rate, average deal and sales cycle", summary),
        Section("Lost reasons", reasons, [reasons_chart]),
    ]


# --- Funnel ----------------------------------------------------------------------------------


def funnel(f: ReportFilters, r: Funnel) -> list[Section]:
    table = Table(
        "funnel",
        f"Deals created in the period in {r.pipeline.name if r.pipeline else 'no pipeline'}: "
        "how far they got",
        ["Stage", "Reached", "Converted to next step", "Median days in stage"],
    )
    created = {"created_from": f.start.isoformat(), "created_to": f.end.isoformat()}
    pipe = {"pipeline": r.pipeline.id} if r.pipeline else {}
    base = f.deal_args() | pipe
    for i, stage in enumerate(r.stages):
        href = url_for("deals.list_view", status="all", reached=stage.id, **base, **created)
        table.rows.append(
            [
                Cell(stage.name),
                n(r.reached.get(stage.id, 0), href),
                pct(r.conversion(i), href),
                days(r.median_days.get(stage.id), href),
            ]
        )
    won_href = url_for("deals.list_view", status="won", **base, **created)
    table.rows.append([Cell("Won"), n(r.won, won_href), Cell(""), Cell("")])
    steps = [(s.name, r.reached.get(s.id, 0)) for s in r.stages] + [("Won", r.won)]
    chart = charts.funnel("Funnel: deals reaching each stage", steps) if r.stages else Markup("")
    time_chart = charts.bars(
        "Median days in each stage",
        [s.name for s in r.stages],
        [charts.Series("Median days", [r.median_days.get(s.id) or 0 for s in r.stages])],
        fmt=lambda v: f"{v:.1f} d",
    )
    return [
        Section("Funnel", table, [chart]),
        Section(
            "Time in stage",
            Table(
                "time-in-stage",
                "Median days a deal spent in each stage (deals that left it)",
                ["Stage", "Median days"],
                [[Cell(s.name), days(r.median_days.get(s.id))] for s in r.stages],
            ),
            [time_chart],
        ),
    ]


# --- Activity --------------------------------------------------------------------------------

KIND_LABELS = {
    "note": "Notes",
    "call": "Calls",
    "meeting": "Meetings",
    "email": "Emails",
    "task": "Tasks done",
}


def activity(f: ReportFilters, r: ActivityReport) -> list[Section]:
    table = Table(
        "activity",
        "Activities by member by week (weeks start on Monday)",
        ["Week of", "Member", *KIND_LABELS.values(), "Total"],
    )
    for week in r.weeks:
        key = week.isoformat()
        for uid, name in r.members.items():
            by_kind = r.counts.get((key, uid))
            if not by_kind:
                continue
            moments = _week_moments(f, week)

            def href(kind=None, uid=uid, moments=moments):
                return url_for(
                    "reports.activity_records", **f.args(owner=uid), kind=kind, **moments
                )

            table.rows.append(
                [Cell(week.strftime("%d %b %Y"), key), Cell(name)]
                + [n(by_kind.get(k, 0), href(k)) for k in KIND_KEYS]
                + [n(sum(by_kind.values()), href())]
            )
    by_week = charts.bars(
        "Activities by week, by kind",
        [w.strftime("%d %b") for w in r.weeks],
        [
            charts.Series(KIND_LABELS[k], [r.total(week=w.isoformat(), kind=k) for w in r.weeks])
            for k in KIND_KEYS
        ],
        stacked=True,
    )
    by_member = charts.bars(
        "Activities by member over the period",
        list(r.members.values()),
        [
            charts.Series(KIND_LABELS[k], [r.total(member=uid, kind=k) for uid in r.members])
            for k in KIND_KEYS
        ],
        stacked=True,
    )
    return [Section("Activity by week", table, [by_week, by_member])]


# --- Pipeline health -------------------------------------------------------------------------


def health(f: ReportFilters, r: Health) -> list[Section]:
    def deal_rows(deals):
        return [
            [
                Cell(d.title, d.title, url_for("deals.show", deal_id=d.id)),
                Cell(d.stage_name),
                Cell(d.owner_name or "Nobody"),
                money(d.value_minor, d.currency),
            ]
            for d in deals
        ]

    summary = Table(
        "health",
        "Open deals that need attention",
        ["Problem", "Deals"],
        [
            [
                Cell("Rotting: no activity for longer than the stage allows"),
                n(r.rotting_count, _deals(f, status="open", rotting="1")),
            ],
            [
                Cell("No open task (no next step planned)"),
                n(r.idle_count, _deals(f, status="open", no_task="1")),
            ],
        ],
    )
    overdue = Table("overdue", "Overdue open tasks by member", ["Member", "Overdue tasks"])
    for uid, name, count_ in r.overdue:
        href = (
            url_for("tasks.index", view="team", assignee=uid)
            if uid
            else url_for("tasks.index", view="team")
        )
        overdue.rows.append([Cell(name), n(count_, href)])
    chart = charts.bars(
        "Overdue tasks by member",
        [x[1] for x in r.overdue],
        [charts.Series("Overdue tasks", [x[2] for x in r.overdue])],
    )
    head = ["Deal", "Stage", "Owner", "Value"]
    return [
        Section(
            "Needs attention",
            summary,
            [
                charts.bars(
                    "Deals that need attention",
                    ["Rotting", "No open task"],
                    [charts.Series("Deals", [r.rotting_count, r.idle_count])],
                )
            ],
        ),
        Section(
            "Rotting deals",
            Table(
                "rotting",
                f"Rotting deals (oldest first, up to {len(r.rotting)} of {r.rotting_count})",
                head,
                deal_rows(r.rotting),
            ),
        ),
        Section(
            "Deals without a next task",
            Table(
                "no-next-task",
                f"Open deals with no open task (up to {len(r.idle)} of {r.idle_count})",
                head,
                deal_rows(r.idle),
            ),
        ),
        Section("Overdue tasks", overdue, [chart]),
    ]


def csv_rows(table: Table):
    yield table.head
    for row in table.rows:
        yield [c.text if c.raw is None else c.raw for c in row]


def now_utc() -> datetime:
    return datetime.now(UTC)
