"""The one list of Rapport's features: create_app installs exactly these, in this order.

Each Feature names what it adds (see crm/kernel/features.py). Blueprints register in list
order: imports come before contacts so that /contacts/import wins over /contacts/<id>.
"""

from __future__ import annotations

from crm import outbox
from crm.api import bp as api_bp
from crm.api import tokens_bp as api_tokens_bp
from crm.api.tokens import purge_idempotency_keys
from crm.auth import bp as auth_bp
from crm.automation import bp as automation_bp
from crm.automation import engine as automation
from crm.companies import bp as companies_bp
from crm.companies.queries import company_count
from crm.contacts import bp as contacts_bp
from crm.contacts.queries import contact_count
from crm.contacts.services import purge_trash
from crm.core import bp as core_bp
from crm.custom_fields import bp as custom_fields_bp
from crm.custom_fields import values_bp as custom_values_bp
from crm.custom_fields import views_bp as saved_views_bp
from crm.custom_fields.services import purge_trash as purge_custom_fields
from crm.deals import bp as deals_bp
from crm.deals import queries as deal_queries
from crm.deals import settings_bp as pipelines_bp
from crm.deals.services import create_default_pipeline
from crm.dedupe import bp as dedupe_bp
from crm.imports import bp as imports_bp
from crm.imports.runner import requeue_imports
from crm.inbound import bp as inbound_bp
from crm.inbound import settings_bp as inbound_settings_bp
from crm.inbound.processing import sweep_received
from crm.kernel import events, statistics
from crm.kernel.features import EVERYONE, Feature
from crm.leads import bp as leads_bp
from crm.leads import processing as lead_processing
from crm.leads import settings_bp as leads_settings_bp
from crm.outbound import bp as outbound_bp
from crm.outbound.bounces import mark_bounces
from crm.outbound.sequences import advance as advance_sequences
from crm.outbound.services import note_replies
from crm.reports import bp as reports_bp
from crm.reports.weekly import send_weekly_reports
from crm.search import bp as search_bp
from crm.search import cli as search_cli
from crm.seed import cli as seed_cli
from crm.settings import bp as settings_bp
from crm.tasks import bp as tasks_bp
from crm.tasks.queries import task_count
from crm.tasks.reminders import send_daily_digests, send_due_reminders
from crm.timeline import bp as timeline_bp
from crm.webhooks import bp as webhooks_bp
from crm.webhooks import delivery as webhook_delivery
from crm.webhooks.fanout import on_events as webhooks_on_events

FEATURES: tuple[Feature, ...] = (
    # Planner statistics checked once a day (and analyzed where missing or stale).
    Feature(
        "core", blueprints=(core_bp,), commands=(seed_cli.register,), sweeps=(statistics.sweep,)
    ),
    # Domain events committed by a process that died before telling the subscribers.
    Feature("events", sweeps=(events.sweep,)),
    Feature("auth", blueprints=(auth_bp,)),
    Feature(
        "settings",
        blueprints=(settings_bp,),
        settings_tabs=((10, "settings.team", "Team"), (20, "settings.members", "People")),
    ),
    Feature(
        "outbox",
        jobs=("jobs.email.send_email",),
        sweeps=(outbox.sweep,),
        settings_tabs=((50, "settings.outbox", "Outbox"),),
    ),
    Feature(
        "inbound",
        blueprints=(inbound_bp, inbound_settings_bp),
        jobs=("jobs.inbound.process_pending", "jobs.inbound.process_inbound"),
        sweeps=(sweep_received,),
        settings_tabs=((40, "settings_inbound.inbound_log", "Inbound mail"),),
        events=("email.logged",),
    ),
    Feature(
        "imports",
        blueprints=(imports_bp,),
        jobs=("jobs.imports.run_import",),
        sweeps=(requeue_imports,),
    ),
    Feature("dedupe", blueprints=(dedupe_bp,)),
    # Before contacts, companies and deals: /contacts/<id>/email is the compose page.
    Feature(
        "outbound",
        blueprints=(outbound_bp,),
        jobs=("jobs.outbound.deliver_bulk",),
        # Replies and bounces first: an enrolment whose contact just answered (or bounced)
        # stops before its next step.
        sweeps=(note_replies, mark_bounces, advance_sequences),
        settings_tabs=((55, "outbound.settings", "Email out"),),
    ),
    Feature(
        "contacts",
        blueprints=(contacts_bp,),
        sweeps=(purge_trash,),
        search_sources=("contact",),
        view_counts=(("contacts", contact_count),),
        events=("contact.created", "contact.updated", "contact.deleted", "contact.restored"),
    ),
    Feature(
        "companies",
        blueprints=(companies_bp,),
        search_sources=("company",),
        view_counts=(("companies", company_count),),
        events=("company.created", "company.updated", "company.deleted", "company.restored"),
    ),
    Feature("timeline", blueprints=(timeline_bp,), search_sources=("activity",)),
    Feature(
        "deals",
        blueprints=(deals_bp, pipelines_bp),
        search_sources=("deal",),
        view_counts=(("deals", deal_queries.list_count), ("deals_board", deal_queries.board_count)),
        new_team=(create_default_pipeline,),
        settings_tabs=((30, "settings_pipelines.pipelines", "Pipelines"),),
        events=(
            "deal.created",
            "deal.updated",
            "deal.stage_changed",
            "deal.won",
            "deal.lost",
            "deal.reopened",
            "deal.deleted",
            "deal.restored",
        ),
    ),
    Feature(
        "tasks",
        blueprints=(tasks_bp,),
        jobs=("jobs.reminders.tick",),
        sweeps=(send_due_reminders, send_daily_digests),
        search_sources=("task",),
        view_counts=(("tasks", task_count),),
        events=("task.created", "task.updated", "task.deleted"),
    ),
    Feature(
        "search",
        blueprints=(search_bp,),
        jobs=("jobs.search.index_changes",),
        commands=(search_cli.add_commands,),
        on_serve=(search_cli.rebuild_on_serve,),
    ),
    Feature("reports", blueprints=(reports_bp,), sweeps=(send_weekly_reports,)),
    Feature(
        "leads",
        blueprints=(leads_bp, leads_settings_bp),
        jobs=(lead_processing.JOB,),
        sweeps=(lead_processing.sweep,),
        settings_tabs=((35, "settings_leads.forms", "Web forms"),),
        # The record of each is the contact; their `changes` name the lead, form, submission.
        events=("form.submitted", "lead.created", "lead.status_changed"),
    ),
    Feature(
        "api",
        blueprints=(api_bp, api_tokens_bp),
        sweeps=(purge_idempotency_keys,),
        settings_tabs=((5, "api_tokens.index", "API tokens", EVERYONE),),
    ),
    Feature(
        "webhooks",
        blueprints=(webhooks_bp,),
        jobs=(webhook_delivery.JOB,),
        sweeps=(webhook_delivery.sweep,),
        subscribers=(webhooks_on_events,),
        settings_tabs=((60, "webhooks.index", "Webhooks"),),
    ),
    Feature(
        "automation",
        blueprints=(automation_bp,),
        jobs=(automation.JOB,),
        sweeps=(automation.sweep,),
        subscribers=(automation.on_events,),
        settings_tabs=((70, "automation.index", "Automation"),),
    ),
    Feature(
        "custom_fields",
        blueprints=(custom_fields_bp, custom_values_bp, saved_views_bp),
        sweeps=(purge_custom_fields,),
        settings_tabs=((25, "custom_fields.index", "Custom fields"),),
    ),
)
