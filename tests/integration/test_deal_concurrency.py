"""Two people moving deals into the same column at the same time never corrupt its order."""

from __future__ import annotations

import threading

from sqlalchemy import select

from crm.deals import queries, services
from crm.extensions import db
from crm.models import Deal, Stage
from tests import factories


def test_concurrent_moves_into_one_column_keep_every_deal_once(app, owner):
    team = factories.team_of(owner)
    pipeline = queries.current_pipeline(team.id, None)
    source, target = pipeline.stages[0], pipeline.stages[1]
    anchor = factories.make_deal(team, title="anchor", stage=target, position=0)
    tail = factories.make_deal(team, title="tail", stage=target, position=1)  # no gap at all
    movers = [
        [factories.make_deal(team, title=f"m{who}-{i}", stage=source).id for i in range(8)]
        for who in range(2)
    ]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def mover(ids):
        with app.app_context():
            try:
                start.wait()
                for deal_id in ids:
                    deal = db.session.get(Deal, deal_id)
                    stage = db.session.get(Stage, target.id)
                    services.move_deal(deal, stage, after_id=anchor.id)
                    db.session.expire_all()
            except BaseException as error:  # surfaced in the main thread
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=mover, args=(ids,)) for ids in movers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    db.session.expire_all()
    rows = db.session.execute(
        select(Deal.id, Deal.position)
        .where(Deal.stage_id == target.id)
        .order_by(Deal.position, Deal.id)
    ).all()
    ids = [r.id for r in rows]
    positions = [r.position for r in rows]
    assert len(ids) == 2 + 16 and len(set(ids)) == len(ids)
    assert len(set(positions)) == len(positions), "duplicate positions"
    assert ids[0] == anchor.id and ids[-1] == tail.id
    # Each mover's deals keep the order their own moves gave them (latest just under anchor).
    for ids_of_one in movers:
        seen = [i for i in ids if i in ids_of_one]
        assert seen == list(reversed(ids_of_one))
