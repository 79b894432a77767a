"""Deal and pipeline writes. Every function owns its commit and raises domain errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import delete, func, select, update

from crm.deals.history import rebuild_pipeline, record_stage
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.kernel import audit, events, members, tags
from crm.kernel.timeline import record
from crm.models import (
    ActivityKind,
    Company,
    Contact,
    Deal,
    DealStatus,
    LostReason,
    Pipeline,
    Stage,
    Tag,
    Team,
    utcnow,
)
from crm.security import scoped

# Positions leave gaps so a move rewrites one row; a column is renumbered when a gap runs out.
GAP = 1 << 16

DEFAULT_STAGES = [
    ("Lead in", 10, 14),
    ("Qualified", 25, 14),
    ("Proposal", 50, 10),
    ("Negotiation", 75, 7),
]
DEFAULT_LOST_REASONS = ["Price", "Chose a competitor", "No budget", "No decision", "Timing"]


class StaleBoard(Conflict):
    """The move was based on a board that changed meanwhile."""

    def __init__(self):
        super().__init__("The board changed meanwhile. It is refreshed: try the move again.")


def version_of(deal: Deal) -> str:
    """What a card carries so a move based on an old copy of the deal is refused."""
    return deal.updated_at.isoformat() if deal.updated_at else ""


# --- New teams -------------------------------------------------------------------------------


def create_default_pipeline(team: Team) -> Pipeline:
    pipeline = Pipeline(team_id=team.id, name="Sales", is_default=True, position=0)
    pipeline.stages = [
        Stage(team_id=team.id, name=name, position=i, probability=p, rot_days=rot)
        for i, (name, p, rot) in enumerate(DEFAULT_STAGES)
    ]
    db.session.add(pipeline)
    for i, name in enumerate(DEFAULT_LOST_REASONS):
        db.session.add(LostReason(team_id=team.id, name=name, position=i))
    return pipeline


# --- Deals -----------------------------------------------------------------------------------


def _audit(deal: Deal, actor_id: int | None, action: str, changes: dict) -> None:
    audit.write(
        team_id=deal.team_id,
        actor_id=actor_id,
        entity_type="deal",
        entity_id=deal.id,
        action=action,
        changes=changes,
    )
    events.audited(
        "deal", action, team_id=deal.team_id, record_id=deal.id, actor_id=actor_id, changes=changes
    )


def _contact_ids(deal: Deal) -> list[int]:
    return [c.id for c in deal.contacts]


def _timeline(deal: Deal, actor_id: int | None, subject: str, data: dict) -> None:
    record(
        team_id=deal.team_id,
        kind=ActivityKind.STAGE_CHANGE,
        author_id=actor_id,
        contact_ids=_contact_ids(deal),
        company_id=deal.company_id,
        deal_id=deal.id,
        subject=subject,
        data={"deal_title": deal.title, **data},
    )


def _top_position(team_id: int, stage_id: int, exclude_id: int | None = None) -> int:
    stmt = select(func.min(Deal.position)).where(
        Deal.team_id == team_id, Deal.stage_id == stage_id, Deal.status == DealStatus.OPEN
    )
    if exclude_id:
        stmt = stmt.where(Deal.id != exclude_id)
    first = db.session.scalar(stmt)
    return 0 if first is None else first - GAP


def _check_links(team_id: int, owner_id, company_id, contact_ids) -> list[Contact]:
    if owner_id and not members.is_member(team_id, owner_id):
        raise Invalid("Choose an owner from your team.", "owner_id")
    if company_id and not db.session.scalar(
        scoped(Company, team_id=team_id)
        .where(Company.id == company_id)
        .with_only_columns(Company.id)
    ):
        raise Invalid("That company does not exist.", "company_id")
    ids = list(dict.fromkeys(contact_ids or ()))
    contacts = (
        db.session.scalars(scoped(Contact, team_id=team_id).where(Contact.id.in_(ids))).all()
        if ids
        else []
    )
    if len(contacts) != len(ids):
        raise Invalid("One of those contacts does not exist.", "contacts")
    return list(contacts)


def _tags(team_id: int, names: Iterable[str]) -> list[Tag]:
    """A deal's tags, in name order."""
    return sorted(tags.find_or_create(team_id, names), key=lambda t: t.name)


def create_deal(
    *,
    team_id: int,
    title: str,
    stage: Stage,
    currency: str,
    value_minor: int = 0,
    owner_id: int | None = None,
    company_id: int | None = None,
    contact_ids: Sequence[int] = (),
    expected_close: date | None = None,
    tags: Iterable[str] = (),
    actor_id: int | None = None,
    commit: bool = True,
) -> Deal:
    """A new open deal at the top of its stage; commit=False leaves the commit to the caller
    (the API writes the deal's custom fields, a batch of web-form leads its other rows, in the
    same transaction)."""
    title = (title or "").strip()
    if not title:
        raise Invalid("A deal needs a title.", "title")
    if stage.team_id != team_id:
        raise Invalid("Choose a stage of your pipeline.", "stage_id")
    contacts = _check_links(team_id, owner_id, company_id, contact_ids)
    now = utcnow()
    deal = Deal(
        team_id=team_id,
        title=title[:200],
        pipeline_id=stage.pipeline_id,
        stage_id=stage.id,
        value_minor=value_minor,
        currency=currency.upper(),
        owner_id=owner_id,
        company_id=company_id,
        expected_close=expected_close,
        status=DealStatus.OPEN,
        position=_top_position(team_id, stage.id),
        stage_entered_at=now,
        contacts=contacts,
        tags=_tags(team_id, tags),
    )
    db.session.add(deal)
    db.session.flush()
    record_stage(deal, now)
    _audit(deal, actor_id, "create", {"title": [None, deal.title]})
    _timeline(deal, actor_id, f"Deal created in {stage.name}", {"to_stage": stage.name})
    if commit:
        db.session.commit()
    return deal


EDITABLE = ("title", "value_minor", "currency", "owner_id", "company_id", "expected_close")


def update_deal(
    deal: Deal,
    *,
    actor_id: int | None = None,
    contact_ids: Sequence[int] | None = None,
    tags: Iterable[str] | None = None,
    **fields,
) -> Deal:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    if "title" in fields:
        fields["title"] = (fields["title"] or "").strip()[:200]
        if not fields["title"]:
            raise Invalid("A deal needs a title.", "title")
    contacts = _check_links(
        deal.team_id,
        fields.get("owner_id"),
        fields.get("company_id"),
        contact_ids if contact_ids is not None else (),
    )
    changes = {}
    for name, value in fields.items():
        old = getattr(deal, name)
        if old != value:
            changes[name] = [_plain(old), _plain(value)]
            setattr(deal, name, value)
    if contact_ids is not None:
        old_ids = sorted(_contact_ids(deal))
        if old_ids != sorted(c.id for c in contacts):
            changes["contacts"] = [old_ids, sorted(c.id for c in contacts)]
            deal.contacts = contacts
    if tags is not None:
        new_tags = _tags(deal.team_id, tags)
        if [t.name for t in deal.tags] != [t.name for t in new_tags]:
            changes["tags"] = [[t.name for t in deal.tags], [t.name for t in new_tags]]
            deal.tags = new_tags
    if changes:
        deal.updated_at = utcnow()  # contacts or tags alone change no column: sync must see it
        _audit(deal, actor_id, "update", changes)
    db.session.commit()
    return deal


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


def _slot(deal: Deal, stage: Stage, after: Deal | None) -> int:
    """A position in `stage` just below `after` (or at the top), renumbering if needed."""
    if after is None:
        return _top_position(deal.team_id, stage.id, exclude_id=deal.id)
    column = select(Deal.position).where(
        Deal.team_id == deal.team_id,
        Deal.stage_id == stage.id,
        Deal.status == DealStatus.OPEN,
        Deal.id != deal.id,
    )
    for _ in range(2):
        prev = after.position
        nxt = db.session.scalar(
            column.where((Deal.position > prev) | ((Deal.position == prev) & (Deal.id > after.id)))
            .order_by(Deal.position, Deal.id)
            .limit(1)
        )
        if nxt is None:
            return prev + GAP
        if nxt - prev >= 2:
            return prev + (nxt - prev) // 2
        renumber_column(deal.team_id, stage.id, exclude_id=deal.id)
        db.session.refresh(after)
    raise AssertionError("a renumbered column always has gaps")


def renumber_column(team_id: int, stage_id: int, exclude_id: int | None = None) -> None:
    """Spread a column's open deals GAP apart, keeping their order (one UPDATE per deal)."""
    stmt = (
        select(Deal.id)
        .where(Deal.team_id == team_id, Deal.stage_id == stage_id, Deal.status == DealStatus.OPEN)
        .order_by(Deal.position, Deal.id)
    )
    if exclude_id:
        stmt = stmt.where(Deal.id != exclude_id)
    ids = db.session.scalars(stmt).all()
    if ids:
        db.session.execute(
            update(Deal), [{"id": id_, "position": i * GAP} for i, id_ in enumerate(ids)]
        )


def move_deal(
    deal: Deal,
    stage: Stage,
    *,
    after_id: int | None = None,
    version: str | None = None,
    actor_id: int | None = None,
) -> Stage:
    """Put an open deal in `stage` just below deal `after_id` (None: at the top).

    Movers into the same column are serialized: the first statement writes the target stage
    row, which takes SQLite's write lock or PostgreSQL's row lock until the commit, and the
    deal is re-read under FOR UPDATE. `version` is what the client saw; if the deal changed
    since, or the deal it was dropped under left the column, StaleBoard (409). Returns the
    stage the deal came from.
    """
    if stage.pipeline_id != deal.pipeline_id:
        raise Invalid("Choose a stage of the deal's pipeline.", "stage_id")
    now = utcnow()
    db.session.execute(
        update(Stage)
        .where(Stage.id == stage.id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(deal, with_for_update=True)
    if (version and version_of(deal) != version) or deal.status != DealStatus.OPEN:
        db.session.rollback()
        raise StaleBoard()
    after = None
    if after_id:
        after = db.session.scalars(
            scoped(Deal, team_id=deal.team_id).where(Deal.id == after_id)
        ).first()
        if (
            after is None
            or after.id == deal.id
            or after.stage_id != stage.id
            or after.status != DealStatus.OPEN
        ):
            db.session.rollback()
            raise StaleBoard()
    old_stage = deal.stage
    deal.position = _slot(deal, stage, after)
    if old_stage.id != stage.id:
        deal.stage = stage
        deal.stage_id = stage.id
        deal.stage_entered_at = now
        record_stage(deal, now)
        events.emit(
            "deal.stage_changed",
            team_id=deal.team_id,
            record_type="deal",
            record_id=deal.id,
            actor_id=actor_id,
            changes={"stage": [old_stage.name, stage.name]},
        )
        _timeline(
            deal,
            actor_id,
            f"Stage: {old_stage.name} → {stage.name}",
            {
                "from_stage_id": old_stage.id,
                "from_stage": old_stage.name,
                "to_stage_id": stage.id,
                "to_stage": stage.name,
            },
        )
    deal.updated_at = now
    db.session.commit()
    return old_stage


def mark_won(deal: Deal, *, actor_id: int | None = None) -> Deal:
    if deal.status != DealStatus.OPEN:
        raise Invalid("Only an open deal can be won.")
    deal.status = DealStatus.WON
    deal.closed_at = utcnow()
    record_stage(deal, deal.closed_at)
    _audit(deal, actor_id, "won", {"status": ["open", "won"]})
    _timeline(deal, actor_id, "Deal won", {"status": "won", "stage": deal.stage.name})
    db.session.commit()
    return deal


def mark_lost(
    deal: Deal, *, reason: LostReason | None, note: str | None = None, actor_id: int | None = None
) -> Deal:
    if deal.status != DealStatus.OPEN:
        raise Invalid("Only an open deal can be lost.")
    if reason is None:
        raise Invalid("Choose why the deal was lost.", "reason_id")
    if reason.team_id != deal.team_id:
        raise Invalid("Choose a reason from your list.", "reason_id")
    deal.status = DealStatus.LOST
    deal.closed_at = utcnow()
    record_stage(deal, deal.closed_at)
    deal.lost_reason = reason
    deal.lost_note = (note or "").strip()[:500] or None
    _audit(deal, actor_id, "lost", {"status": ["open", "lost"], "reason": reason.name})
    _timeline(
        deal,
        actor_id,
        f"Deal lost: {reason.name}",
        {"status": "lost", "reason": reason.name, "note": deal.lost_note},
    )
    db.session.commit()
    return deal


def reopen(deal: Deal, *, actor_id: int | None = None) -> Deal:
    if deal.status == DealStatus.OPEN:
        raise Invalid("The deal is open already.")
    old = deal.status.value
    deal.status = DealStatus.OPEN
    deal.closed_at = None
    deal.lost_reason = None
    deal.lost_note = None
    deal.position = _top_position(deal.team_id, deal.stage_id, exclude_id=deal.id)
    deal.stage_entered_at = utcnow()
    record_stage(deal, deal.stage_entered_at)
    _audit(deal, actor_id, "reopen", {"status": [old, "open"]})
    _timeline(deal, actor_id, f"Deal reopened in {deal.stage.name}", {"status": "open"})
    db.session.commit()
    return deal


def delete_deal(deal: Deal, *, actor_id: int | None = None) -> None:
    """Soft delete: the deal goes to the trash and leaves the board and lists."""
    if deal.trash(actor_id):
        _audit(deal, actor_id, "delete", {})
    db.session.commit()


def restore_deal(deal: Deal, *, actor_id: int | None = None) -> Deal:
    """Bring a deal back from the trash, into the stage and place it had."""
    if deal.untrash():
        _audit(deal, actor_id, "restore", {})
    db.session.commit()
    return deal


# --- Pipelines, stages, lost reasons ---------------------------------------------------------


def _name(text: str | None, field: str = "name") -> str:
    name = (text or "").strip()[:100]
    if not name:
        raise Invalid("Enter a name.", field)
    return name


def _probability(value) -> int:
    if value is None or not 0 <= int(value) <= 100:
        raise Invalid("Enter a probability from 0 to 100.", "probability")
    return int(value)


def _rot_days(value) -> int | None:
    if value in (None, "", 0):
        return None
    if not 1 <= int(value) <= 3650:
        raise Invalid("Enter a number of days from 1 to 3650, or leave it empty.", "rot_days")
    return int(value)


def create_pipeline(team_id: int, name: str) -> Pipeline:
    count = db.session.scalar(select(func.count(Pipeline.id)).where(Pipeline.team_id == team_id))
    pipeline = Pipeline(team_id=team_id, name=_name(name), position=count, is_default=count == 0)
    pipeline.stages = [
        Stage(team_id=team_id, name=n, position=i, probability=p, rot_days=rot)
        for i, (n, p, rot) in enumerate(DEFAULT_STAGES)
    ]
    db.session.add(pipeline)
    db.session.commit()
    return pipeline


def rename_pipeline(pipeline: Pipeline, name: str) -> Pipeline:
    pipeline.name = _name(name)
    db.session.commit()
    return pipeline


def make_default(pipeline: Pipeline) -> Pipeline:
    db.session.execute(
        update(Pipeline).where(Pipeline.team_id == pipeline.team_id).values(is_default=False)
    )
    pipeline.is_default = True
    db.session.commit()
    return pipeline


def delete_pipeline(pipeline: Pipeline) -> None:
    if db.session.scalar(select(Deal.id).where(Deal.pipeline_id == pipeline.id).limit(1)):
        raise Invalid("This pipeline has deals. Move or delete them first.")
    others = db.session.scalar(
        select(func.count(Pipeline.id)).where(
            Pipeline.team_id == pipeline.team_id, Pipeline.id != pipeline.id
        )
    )
    if not others:
        raise Invalid("A team needs at least one pipeline.")
    was_default = pipeline.is_default
    team_id = pipeline.team_id
    db.session.delete(pipeline)
    db.session.flush()
    if was_default:
        first = db.session.scalars(
            select(Pipeline).where(Pipeline.team_id == team_id).order_by(Pipeline.position)
        ).first()
        first.is_default = True
    db.session.commit()


def add_stage(
    pipeline: Pipeline, name: str, probability: int = 0, rot_days: int | None = None
) -> Stage:
    last = db.session.scalar(
        select(func.max(Stage.position)).where(Stage.pipeline_id == pipeline.id)
    )
    stage = Stage(
        team_id=pipeline.team_id,
        pipeline_id=pipeline.id,
        name=_name(name),
        position=(last if last is not None else -1) + 1,
        probability=_probability(probability),
        rot_days=_rot_days(rot_days),
    )
    db.session.add(stage)
    db.session.commit()
    return stage


def update_stage(stage: Stage, *, name: str, probability: int, rot_days: int | None) -> Stage:
    stage.name = _name(name)
    stage.probability = _probability(probability)
    stage.rot_days = _rot_days(rot_days)
    db.session.commit()
    return stage


def reorder_stages(pipeline: Pipeline, stage_ids: Sequence[int]) -> None:
    stages = {s.id: s for s in pipeline.stages}
    if sorted(stage_ids) != sorted(stages):
        raise Conflict("The stages changed meanwhile. Reload and try again.")
    for i, stage_id in enumerate(stage_ids):
        stages[stage_id].position = i
    rebuild_pipeline(pipeline.id)  # "furthest stage reached" follows the new order
    db.session.commit()
    db.session.expire(pipeline, ["stages"])


def delete_stage(stage: Stage) -> None:
    if db.session.scalar(select(Deal.id).where(Deal.stage_id == stage.id).limit(1)):
        raise Invalid(f"“{stage.name}” has deals. Move them to another stage first.")
    if (
        db.session.scalar(
            select(func.count(Stage.id)).where(Stage.pipeline_id == stage.pipeline_id)
        )
        <= 1
    ):
        raise Invalid("A pipeline needs at least one stage.")
    pipeline_id = stage.pipeline_id
    db.session.delete(stage)
    rebuild_pipeline(pipeline_id)  # deals whose furthest stage it was
    db.session.commit()


def add_lost_reason(team_id: int, name: str) -> LostReason:
    last = db.session.scalar(
        select(func.max(LostReason.position)).where(LostReason.team_id == team_id)
    )
    reason = LostReason(
        team_id=team_id, name=_name(name), position=(last if last is not None else -1) + 1
    )
    db.session.add(reason)
    db.session.commit()
    return reason


def rename_lost_reason(reason: LostReason, name: str) -> LostReason:
    reason.name = _name(name)
    db.session.commit()
    return reason


def delete_lost_reason(reason: LostReason) -> None:
    # Deals keep their status; their reason becomes empty (ON DELETE SET NULL).
    db.session.execute(
        update(Deal).where(Deal.lost_reason_id == reason.id).values(lost_reason_id=None)
    )
    db.session.execute(delete(LostReason).where(LostReason.id == reason.id))
    db.session.commit()
