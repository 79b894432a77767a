"""How each report counts, shown on its page ("How this is counted") and in docs/reports.md."""

COMMON = [
    "Deals in the trash are not counted anywhere; restored deals count again.",
    "Money is shown per currency and never added across currencies.",
    "Months and weeks are calendar months and Monday-to-Sunday weeks in your time zone "
    "(its offset at the start of the period).",
    "Pipeline, owner and tag narrow the deals counted; every figure links to those deals.",
]

RULES = {
    "forecast": [
        "Open deals are counted in the month of their expected close date, from today to the "
        "end of the period.",
        "Weighted = value × the probability of the stage the deal is in now (rounded down "
        "to the cent per month and currency).",
        "Won = deals won in that month (by the day they were marked won), whatever their "
        "expected close date. A deal reopened and won again counts in the month it was last "
        "won; while reopened it is open again.",
        "Open deals whose expected close date has passed, and open deals without one, are "
        "shown apart: they are in no month.",
    ],
    "win_loss": [
        "A deal counts in the month it was closed (won or lost); a reopened deal counts only "
        "when it closes again, in that month.",
        "Win rate = deals won ÷ (deals won + deals lost), by count, all currencies together.",
        "Average won deal = won value ÷ won deals, per currency.",
        "Sales cycle = days from the deal's creation to its win, averaged over the deals won "
        "in the period.",
        "Lost reasons are ranked by the number of deals lost for them.",
    ],
    "funnel": [
        "Counts the deals created in the period in the chosen pipeline (the default one when "
        "none is chosen).",
        "A deal has reached a stage when it was ever in that stage or a later one — moving "
        "back a stage does not undo it, skipping a stage counts as passing it.",
        "Conversion = deals that reached the next stage ÷ deals that reached this one; after "
        "the last stage, the next step is Won (deals won now).",
        "Median days in stage: for each deal that left the stage, the days it spent there "
        "(all its visits added together); the median of those.",
    ],
    "activity": [
        "Notes, calls, meetings and emails are counted for the member who logged them, in the "
        "week they happened; emails logged by email-in count for the member whose address "
        "received them.",
        "Tasks done are counted for their assignee in the week they were completed.",
        "The owner filter picks one member; pipeline and tag do not apply to activity.",
    ],
    "health": [
        "Rotting: an open deal with no activity, stage change or creation for longer than "
        "its stage's rot days (set per stage in the pipeline settings).",
        "No next task: an open deal that has no open task linked to it.",
        "Overdue tasks: open tasks due before now, by assignee (not narrowed by pipeline or "
        "tag). The period does not apply to this report: it is about now.",
    ],
}
