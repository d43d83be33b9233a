"""Looking up the handles of a roster import on the platforms (roster may not call channels).

``PlatformResolver`` is the ``resolve`` the CLI gives ``roster.importer.import_roster``; it
runs while the import validates, before its first write, so a handle that cannot be enrolled
fails the whole file and costs no write lock. Within each platform's API budget:

- X: ``GET /2/users/by``, 100 usernames per call (``XPlatform.lookup_handles``); a username X
  does not return is "not found", or "suspended" when X says so.
- Instagram: business discovery, one call per handle; a personal account cannot be read and
  stays unresolved.
- Facebook: personal profiles cannot be looked up at all, so its handles are never asked
  about: they stay unresolved and Humas confirms them by hand, as after self-enrolment.

A platform that is not connected is not called either: its handles stay unresolved and the
account is imported not yet verified, the way self-enrolment leaves it. A rate limit or an
expired token stops the import with nothing written (try again after the reset).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from assignments.metrics import channel_calls
from channels import platforms
from channels.platforms import AccountGone, ChannelError, NotConnected, Unverifiable
from gaung.errors import N_
from kernel.limits import display_name
from roster.importer import (
    HANDLE_NOT_FOUND,
    HANDLE_SUSPENDED,
    FoundAccount,
    RosterImportError,
    RowError,
)

NOT_LOOKED_UP = frozenset({"facebook"})  # no user lookup for personal profiles


class PlatformResolver:
    """Resolves handles through the registered channels; ``calls`` counts billed calls."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def __call__(self, platform: str, handles: Sequence[str]) -> Mapping[str, FoundAccount | str]:
        factory = platforms.PLATFORMS.get(platform)
        if factory is None or platform in NOT_LOOKED_UP or not handles:
            return {}
        channel = factory()
        if not channel.connected():
            return {}
        try:
            return self._look_up(channel, handles)
        except NotConnected:
            return {}
        except ChannelError as exc:
            raise RosterImportError(
                [
                    RowError(
                        1,
                        "file",
                        N_(
                            "The handles could not be looked up on %(platform)s (%(reason)s); "
                            "nothing was imported. Please try again later."
                        ),
                        {"platform": display_name(platform), "reason": exc.render(lambda m: m)},
                    )
                ]
            ) from exc
        finally:
            self.calls[platform] = self.calls.get(platform, 0) + channel_calls(channel)

    @staticmethod
    def _look_up(
        channel: platforms.SocialPlatform, handles: Sequence[str]
    ) -> dict[str, FoundAccount | str]:
        answers: dict[str, FoundAccount | str] = {}
        batch = getattr(channel, "lookup_handles", None)
        if batch is not None:
            found: Mapping[str, platforms.AccountInfo] = batch(handles)
            suspended: set[str] = getattr(channel, "suspended", set())
            for handle in handles:
                info = found.get(handle.lower())
                if info is not None:
                    answers[handle] = FoundAccount(info.user_id, handle, info.followers)
                elif handle.lower() in suspended:
                    answers[handle] = HANDLE_SUSPENDED
                else:
                    answers[handle] = HANDLE_NOT_FOUND
            return answers
        for handle in handles:
            try:
                info = channel.lookup_account(handle)
            except AccountGone:
                answers[handle] = HANDLE_NOT_FOUND
                continue
            except Unverifiable:
                continue  # e.g. a personal Instagram account: stays unresolved
            if info.user_id:
                answers[handle] = FoundAccount(info.user_id, handle, info.followers)
        return answers
