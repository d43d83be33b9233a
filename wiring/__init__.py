"""The composition root: the one place that fills Gaung's registries.

Every entry point calls :func:`wire` before it does anything else (``gaung worker``,
``gaung serve`` and the web app factory, ``gaung demo``, the test fixtures), so they all run
the same jobs, dispatch hooks, messengers, platforms and privacy erasers. No module
registers itself by being imported: a job, hook or channel that is not listed here does not
run anywhere, and one that is runs everywhere.

The registries live in the layers that use them (``kernel.jobs``, ``kernel.recurring``,
``scheduler.dispatch``, ``channels.messaging``, ``channels.platforms``, ``roster.privacy``);
this module only decides what goes in them, and in which order.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from assignments import evidence, feedback
from assignments import privacy as assignment_privacy
from channels import (
    email,
    facebook,
    instagram,
    instagram_private,
    messaging,
    platforms,
    telegram,
    webhook,
    webpush,
    whatsapp,
    x,
)
from channels.platforms import SocialPlatform
from content import workflow
from gaung.settings import get_settings
from kernel import idempotency, jobs, notices, recurring, throttle
from kernel import outbox as outbox_vocabulary
from roster import privacy, recognition, security
from roster.models import User
from scheduler import (
    deliver,
    digest,
    dispatch,
    expiry,
    feedback_digest,
    feedback_reply,
    followers,
    measure,
    outbox,
    ownership,
    push,
    reach_snapshots,
    recurring_campaigns,
    reminders,
    staff_mail,
    telegram_poll,
    verify,
    webhook_deliver,
    weekly_report,
    withdrawal,
)

_lock = threading.Lock()


def _instagram() -> SocialPlatform:
    """Graph by default; the opt-in private-API backend when ``instagram.backend`` says so."""
    if get_settings().instagram.backend == "instagrapi":
        return instagram_private.from_settings()
    return instagram.from_settings()


def _wire_jobs() -> None:
    jobs.register("dispatch", dispatch.dispatch_job)
    jobs.register(dispatch.PART_JOB, dispatch.dispatch_part_job)
    jobs.register("verify_post", verify.verify_post_job)
    jobs.on_give_up("verify_post", verify.verify_post_gave_up)
    jobs.register("verify_link", verify.verify_link_job)
    jobs.register("measure", measure.measure_job)
    jobs.register("followers_account", followers.followers_account_job)
    jobs.register(ownership.JOB_KIND, ownership.ownership_check)
    jobs.register("reminder", reminders.reminder_job)
    jobs.register("telegram_poll", telegram_poll.telegram_poll_job)
    jobs.register("expire", expiry.expire_job)
    jobs.register("reach_snapshot", reach_snapshots.reach_snapshot_job)
    jobs.register("staff_mail", staff_mail.staff_mail_job)
    jobs.register(weekly_report.MAIL_JOB, weekly_report.weekly_report_mail_job)
    jobs.register(feedback_digest.MAIL_JOB, feedback_digest.feedback_digest_mail_job)
    recurring.register(
        feedback_digest.JOB, feedback_digest.feedback_digest_job, feedback_digest.EVERY
    )
    digest_at = timedelta(hours=get_settings().reminders.digest_hour_utc)
    recurring.register("digest", digest.digest_job, digest.DAY, digest_at)
    recurring.register("followers", followers.followers_job, followers.EVERY, followers.AT)
    recurring.register("expire_sweep", expiry.expire_sweep_job, expiry.SWEEP_EVERY, expiry.SWEEP_AT)
    recurring.register("reach_refresh", reach_snapshots.reach_refresh_job, reach_snapshots.EVERY)
    recurring.register("login_failure.purge", throttle.purge_job, throttle.PURGE_EVERY)
    recurring.register(
        weekly_report.JOB, weekly_report.weekly_report_job, weekly_report.EVERY, weekly_report.AT
    )
    recurring.register(
        recurring_campaigns.JOB_KIND,
        recurring_campaigns.recurring_campaigns_job,
        recurring_campaigns.EVERY,
    )
    recurring.register("idempotency.purge", idempotency.purge_job, idempotency.PURGE_EVERY)
    recurring.register(
        "webhook_purge",
        webhook_deliver.purge_job,
        webhook_deliver.PURGE_EVERY,
        webhook_deliver.PURGE_AT,
    )


def _wire_dispatch_hooks() -> None:
    # Order matters: the notices first, so a notice exists whenever a reminder may follow.
    hooks = [
        outbox.write_outbox,
        push.route_post,  # notices to ASN with a subscribed device go by Web Push first
        reminders.on_dispatch,
        verify.on_dispatch,
        measure.on_dispatch,
        expiry.on_dispatch,
        reach_snapshots.on_dispatch,
    ]
    dispatch.after_assignments[:] = hooks
    workflow.after_withdrawal[:] = [withdrawal.on_withdrawal]
    workflow.before_dispatched_withdrawal[:] = [dispatch.abandon]
    workflow.after_official_urls_changed[:] = [evidence.forget_search]
    feedback.after_reply[:] = [feedback_reply.on_reply]


def _wire_channels() -> None:
    # In the order people are offered them.
    for messenger in (email.messenger, telegram.messenger, whatsapp.messenger, webhook.messenger):
        messaging.register(messenger)
    # Not offered to people: it comes on top of their messenger, which is its fallback.
    messaging.register(webpush.messenger)
    deliver.BATCH_SENDERS[webpush.SLUG] = push.deliver_batch
    notices.after_queue[:] = [push.route_keys]
    platforms.register("x", x.from_settings)
    platforms.register("facebook", facebook.from_settings)
    platforms.register("instagram", _instagram)


def _wire_privacy() -> None:
    privacy.EXPORTERS[:] = [
        assignment_privacy.export_personal_data,
        feedback.export_personal_data,
        recognition.export_personal_data,
        webpush.export_personal_data,
    ]
    privacy.ERASERS[:] = [
        assignment_privacy.erase_personal_data,
        feedback.erase_personal_data,
        recognition.erase_personal_data,
        webpush.erase_personal_data,
    ]


def wire() -> dict[str, Any]:
    """Fill every registry (idempotent) and return what is in them, see :func:`describe`."""
    with _lock:
        security.install_session_guard()
        _wire_jobs()
        _wire_dispatch_hooks()
        _wire_channels()
        _wire_privacy()
    return describe()


def _name(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def describe() -> dict[str, Any]:
    """The registries as names, e.g. for comparing what two entry points wired."""
    return {
        "jobs": {kind: _name(handler) for kind, handler in sorted(jobs.JOBS.items())},
        "gave_up": {kind: _name(handler) for kind, handler in sorted(jobs.GAVE_UP.items())},
        "recurring": {
            kind: [spec.every.total_seconds(), spec.offset.total_seconds()]
            for kind, spec in sorted(recurring.RECURRING.items())
        },
        "dispatch_hooks": [_name(hook) for hook in dispatch.after_assignments],
        "withdrawal_hooks": [_name(hook) for hook in workflow.after_withdrawal],
        "official_url_hooks": [_name(hook) for hook in workflow.after_official_urls_changed],
        "feedback_reply_hooks": [_name(hook) for hook in feedback.after_reply],
        "messengers": {slug: _name(type(m)) for slug, m in sorted(messaging.MESSENGERS.items())},
        "person_messengers": list(outbox_vocabulary.PERSON_MESSENGERS),
        "batch_senders": {slug: _name(f) for slug, f in sorted(deliver.BATCH_SENDERS.items())},
        "queue_hooks": [_name(hook) for hook in notices.after_queue],
        "platforms": {
            slug: _name(factory) for slug, factory in sorted(platforms.PLATFORMS.items())
        },
        "exporters": [_name(f) for f in privacy.EXPORTERS],
        "erasers": [_name(f) for f in privacy.ERASERS],
        "model_events": {
            "User.before_update": event.contains(
                User, "before_update", security.end_sessions_on_credential_change
            )
        },
    }
