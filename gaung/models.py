"""Imports every table so SQLModel.metadata (and Alembic) sees the whole schema."""

from sqlmodel import SQLModel

from assignments.evidence import Evidence, VerifyCursor
from assignments.models import Assignment, AssignmentStatus, Click
from content.models import AuditLog, Campaign, CampaignKind, CampaignUnit, Post, PostStatus
from roster.models import Agency, Asn, AsnStatus, Platform, Role, SocialAccount, Unit, User
from scheduler.models import WorkItem, WorkStatus
from scheduler.outbox import OutboxMessage, OutboxStatus

metadata = SQLModel.metadata

__all__ = [
    "Agency",
    "Asn",
    "AsnStatus",
    "Assignment",
    "AssignmentStatus",
    "AuditLog",
    "Campaign",
    "CampaignKind",
    "CampaignUnit",
    "Click",
    "Evidence",
    "OutboxMessage",
    "OutboxStatus",
    "Platform",
    "Post",
    "PostStatus",
    "Role",
    "SocialAccount",
    "Unit",
    "User",
    "VerifyCursor",
    "WorkItem",
    "WorkStatus",
    "metadata",
]
