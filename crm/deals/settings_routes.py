"""Pipeline, stage and lost-reason settings (admins): the Pipelines tab of /settings."""

from __future__ import annotations

from flask import request

from crm.deals import queries, services, settings_bp
from crm.deals.forms import NameForm, StageForm
from crm.errors import Invalid
from crm.htmx import render, trigger
from crm.kernel.ids import parse_ids
from crm.models import LostReason, Pipeline, Stage
from crm.security import admin_required, current_team, get_or_404


def _page(status: int = 200, **extra):
    team = current_team()
    response = render(
        "deals/settings_pipelines.html",
        "deals/_pipelines.html",
        http_status=status,
        pipelines=queries.pipelines(team.id),
        reasons=queries.lost_reasons(team.id),
        pipeline_form=extra.pop("pipeline_form", None) or NameForm(prefix="pipeline"),
        reason_form=extra.pop("reason_form", None) or NameForm(prefix="reason"),
        stage_forms=extra.pop("stage_forms", {}),
        **extra,
    )
    return response


@settings_bp.get("")
@admin_required
def pipelines():
    return _page()


def _changed(event: str, **detail):
    return trigger(_page(), event, detail or True)


@settings_bp.post("")
@admin_required
def create_pipeline():
    form = NameForm(prefix="pipeline")
    if not form.validate_on_submit():
        return _page(422, pipeline_form=form)
    pipeline = services.create_pipeline(current_team().id, form.name.data)
    return _changed("pipeline-created", pipeline_id=pipeline.id)


@settings_bp.post("/<id:pipeline_id>/rename")
@admin_required
def rename_pipeline(pipeline_id: int):
    pipeline = get_or_404(Pipeline, pipeline_id)
    form = NameForm()
    if not form.validate_on_submit():
        raise Invalid("Enter a name for the pipeline.", "name")
    services.rename_pipeline(pipeline, form.name.data)
    return _changed("pipeline-renamed", pipeline_id=pipeline.id)


@settings_bp.post("/<id:pipeline_id>/default")
@admin_required
def default_pipeline(pipeline_id: int):
    pipeline = get_or_404(Pipeline, pipeline_id)
    services.make_default(pipeline)
    return _changed("pipeline-defaulted", pipeline_id=pipeline.id)


@settings_bp.post("/<id:pipeline_id>/delete")
@admin_required
def delete_pipeline(pipeline_id: int):
    pipeline = get_or_404(Pipeline, pipeline_id)
    services.delete_pipeline(pipeline)
    return _changed("pipeline-deleted", pipeline_id=pipeline_id)


@settings_bp.post("/<id:pipeline_id>/stages")
@admin_required
def add_stage(pipeline_id: int):
    pipeline = get_or_404(Pipeline, pipeline_id)
    form = StageForm(prefix=f"new-{pipeline.id}")
    if not form.validate_on_submit():
        return _page(422, stage_forms={f"new-{pipeline.id}": form})
    stage = services.add_stage(pipeline, form.name.data, form.probability.data, form.rot_days.data)
    return _changed("stage-added", stage_id=stage.id)


@settings_bp.post("/<id:pipeline_id>/order")
@admin_required
def order_stages(pipeline_id: int):
    pipeline = get_or_404(Pipeline, pipeline_id)
    ids = parse_ids(request.form.getlist("stage"))
    services.reorder_stages(pipeline, ids)
    return _changed("stages-reordered", pipeline_id=pipeline.id)


@settings_bp.post("/stages/<id:stage_id>")
@admin_required
def update_stage(stage_id: int):
    stage = get_or_404(Stage, stage_id)
    form = StageForm(prefix=f"stage-{stage.id}")
    if not form.validate_on_submit():
        return _page(422, stage_forms={f"stage-{stage.id}": form})
    services.update_stage(
        stage, name=form.name.data, probability=form.probability.data, rot_days=form.rot_days.data
    )
    return _changed("stage-updated", stage_id=stage.id)


@settings_bp.post("/stages/<id:stage_id>/move")
@admin_required
def nudge_stage(stage_id: int):
    """Up/down buttons: the same reorder without dragging."""
    stage = get_or_404(Stage, stage_id)
    ids = [s.id for s in stage.pipeline.stages]
    i = ids.index(stage.id)
    j = i - 1 if request.form.get("direction") == "up" else i + 1
    if 0 <= j < len(ids):
        ids[i], ids[j] = ids[j], ids[i]
        services.reorder_stages(stage.pipeline, ids)
    return _changed("stages-reordered", pipeline_id=stage.pipeline_id)


@settings_bp.post("/stages/<id:stage_id>/delete")
@admin_required
def delete_stage(stage_id: int):
    stage = get_or_404(Stage, stage_id)
    services.delete_stage(stage)
    return _changed("stage-deleted", stage_id=stage_id)


@settings_bp.post("/lost-reasons")
@admin_required
def add_lost_reason():
    form = NameForm(prefix="reason")
    if not form.validate_on_submit():
        return _page(422, reason_form=form)
    reason = services.add_lost_reason(current_team().id, form.name.data)
    return _changed("lost-reason-added", lost_reason_id=reason.id)


@settings_bp.post("/lost-reasons/<id:lost_reason_id>")
@admin_required
def rename_lost_reason(lost_reason_id: int):
    reason = get_or_404(LostReason, lost_reason_id)
    form = NameForm()
    if not form.validate_on_submit():
        raise Invalid("Enter a name for the reason.", "name")
    services.rename_lost_reason(reason, form.name.data)
    return _changed("lost-reason-renamed", lost_reason_id=reason.id)


@settings_bp.post("/lost-reasons/<id:lost_reason_id>/delete")
@admin_required
def delete_lost_reason(lost_reason_id: int):
    reason = get_or_404(LostReason, lost_reason_id)
    services.delete_lost_reason(reason)
    return _changed("lost-reason-deleted", lost_reason_id=lost_reason_id)
