"""`flask --app app crm reindex` and the `crm serve` start-up rebuild."""

from __future__ import annotations

import click


def add_commands(group: click.Group) -> None:
    @group.command()
    def reindex() -> None:
        """Rebuild the search index from the database (searches keep working meanwhile)."""
        from crm.search import indexing, services

        total = indexing.count_all()
        with click.progressbar(length=total, label="Indexing", show_pos=True) as bar:
            done = 0

            def progress(count: int) -> None:
                nonlocal done
                bar.update(count - done)
                done = count

            count = services.reindex(progress=progress)
        click.echo(f"Indexed {count} records.")


def rebuild_on_serve(app) -> None:
    from crm.search.services import rebuild_if_needed

    rebuild_if_needed(app)
