"""All models, imported here so Alembic and the app see the whole schema."""

from crm.models.activity import Activity, ActivityContact, ActivityKind, AuditEvent
from crm.models.api_token import ApiIdempotencyKey, ApiToken, TokenScope
from crm.models.automation import (
    AutomationEffect,
    AutomationRule,
    AutomationRun,
    RunStatus,
)
from crm.models.base import UTCDateTime, new_token, utcnow
from crm.models.contact import (
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    Lifecycle,
    SoftDelete,
    Tag,
    company_tag,
    contact_tag,
)
from crm.models.custom import ENTITIES as ENTITIES_CUSTOM
from crm.models.custom import TYPES as TYPES_CUSTOM
from crm.models.custom import CustomField, CustomValue, DefaultView, SavedView
from crm.models.deal import Deal, DealStatus, LostReason, Pipeline, Stage, deal_contact, deal_tag
from crm.models.event import EventOutbox
from crm.models.imports import (
    ContactMerge,
    DuplicatePolicy,
    ImportChange,
    ImportJob,
    ImportMapping,
    ImportStatus,
)
from crm.models.lead import (
    Lead,
    LeadForm,
    LeadRotation,
    LeadRule,
    LeadStatus,
    LeadSubmission,
    SubmissionStatus,
)
from crm.models.mail import (
    EmailAttachment,
    EmailMessage,
    EmailTemplate,
    InboundMessage,
    InboundStatus,
    NeverLog,
    OutboundEmail,
    OutboxStatus,
)
from crm.models.outbound import (
    BulkRecipient,
    BulkSend,
    Enrolment,
    EnrolmentStep,
    Sequence,
    SequenceStep,
)
from crm.models.report import (
    DealStageHistory,
    DealStageReach,
    ReportSubscription,
    WeeklyReportClaim,
)
from crm.models.task import Priority, Task
from crm.models.team import Invitation, Membership, Role, Team, User, UserSession
from crm.models.webhook import DeliveryStatus, Webhook, WebhookDelivery

__all__ = [
    "ApiIdempotencyKey",
    "ApiToken",
    "TokenScope",
    "AutomationEffect",
    "AutomationRule",
    "AutomationRun",
    "RunStatus",
    "DeliveryStatus",
    "EventOutbox",
    "Webhook",
    "WebhookDelivery",
    "BulkRecipient",
    "BulkSend",
    "Enrolment",
    "EnrolmentStep",
    "Sequence",
    "SequenceStep",
    "Activity",
    "ActivityContact",
    "ActivityKind",
    "AuditEvent",
    "Company",
    "Contact",
    "ContactEmail",
    "ContactPhone",
    "ContactMerge",
    "DuplicatePolicy",
    "ImportChange",
    "ImportJob",
    "ImportMapping",
    "ImportStatus",
    "ENTITIES_CUSTOM",
    "TYPES_CUSTOM",
    "CustomField",
    "CustomValue",
    "DefaultView",
    "SavedView",
    "Deal",
    "DealStatus",
    "DealStageHistory",
    "DealStageReach",
    "ReportSubscription",
    "WeeklyReportClaim",
    "Lead",
    "LeadForm",
    "LeadRotation",
    "LeadRule",
    "LeadStatus",
    "LeadSubmission",
    "SubmissionStatus",
    "Lifecycle",
    "LostReason",
    "Pipeline",
    "Priority",
    "SoftDelete",
    "Stage",
    "Tag",
    "Task",
    "company_tag",
    "contact_tag",
    "deal_contact",
    "deal_tag",
    "EmailAttachment",
    "EmailMessage",
    "EmailTemplate",
    "NeverLog",
    "InboundMessage",
    "InboundStatus",
    "Invitation",
    "Membership",
    "OutboundEmail",
    "OutboxStatus",
    "Role",
    "Team",
    "User",
    "UserSession",
    "UTCDateTime",
    "new_token",
    "utcnow",
]
