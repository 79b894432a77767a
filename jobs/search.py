"""Search index updates: the `search` queue has a single worker, the index's one writer."""

from crm.search import services


def index_changes(items: list) -> int:
    """Items are [team_id, source, id] (source: contact, company, deal, task, activity)."""
    return services.index_changes([tuple(item) for item in items])
