"""Imports every table so SQLModel.metadata (and Alembic) sees the whole schema."""

from sqlmodel import SQLModel

from assignments.evidence import Evidence, VerifyCursor
from assignments.feedback import Feedback, FeedbackReply
from assignments.metrics import ApiUsage, PostMetrics, RepostMetrics
from assignments.models import Assignment, AssignmentStatus, Click, DispatchPart
from assignments.problems import VerificationProblem
from assignments.reach_snapshot import ReachSnapshot
from assignments.rollup import ReachRollup
from channels.credentials import ChannelCredential
from channels.instagram_private import ChannelSession
from channels.telegram_updates import TelegramCursor
from channels.webpush import PushSubscription, VapidKey
from content.models import (
    Campaign,
    CampaignKind,
    CampaignRecurrence,
    CampaignUnit,
    Post,
    PostStatus,
    RecurrenceOccurrence,
)
from kernel.audit import AuditLog
from kernel.idempotency import IdempotencyKey
from kernel.models import WorkItem, WorkStatus
from kernel.outbox import OutboxMessage, OutboxStatus
from kernel.ratelimit import RateWindow
from kernel.throttle import LoginFailure
from kernel.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent
from roster.api_tokens import ApiToken
from roster.models import (
    Agency,
    Asn,
    AsnStatus,
    Invitation,
    OwnershipCheck,
    Platform,
    Role,
    SocialAccount,
    Unit,
    User,
)
from roster.oidc import AgencySso
from roster.recognition import LeaderboardOptIn
from roster.weekly_report import WeeklyReportMail, WeeklyReportSubscription
from scheduler.manual_reminders import ManualReminder

metadata = SQLModel.metadata

__all__ = [
    "Agency",
    "AgencySso",
    "ApiToken",
    "ApiUsage",
    "Asn",
    "AsnStatus",
    "Assignment",
    "AssignmentStatus",
    "AuditLog",
    "Campaign",
    "CampaignKind",
    "CampaignRecurrence",
    "CampaignUnit",
    "ChannelCredential",
    "ChannelSession",
    "Click",
    "DispatchPart",
    "Evidence",
    "Feedback",
    "FeedbackReply",
    "IdempotencyKey",
    "Invitation",
    "LeaderboardOptIn",
    "LoginFailure",
    "ManualReminder",
    "OutboxMessage",
    "OutboxStatus",
    "OwnershipCheck",
    "Platform",
    "Post",
    "PostMetrics",
    "PostStatus",
    "PushSubscription",
    "RateWindow",
    "ReachRollup",
    "ReachSnapshot",
    "RecurrenceOccurrence",
    "RepostMetrics",
    "Role",
    "SocialAccount",
    "TelegramCursor",
    "Unit",
    "User",
    "VapidKey",
    "VerificationProblem",
    "VerifyCursor",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WeeklyReportMail",
    "WeeklyReportSubscription",
    "WorkItem",
    "WorkStatus",
    "metadata",
]
