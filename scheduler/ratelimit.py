"""Per-messenger token buckets: how fast the outbox may send through each messenger.

The buckets live in this process only. With several ``gaung worker`` processes each
one sends at the full configured rate, so operators running N workers divide the
limits by N for now; a cluster-wide limit shared through the database is issue 5.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gaung.settings import get_settings

Clock = Callable[[], float]


class TokenBucket:
    """``rate`` tokens per second, holding at most ``capacity`` (the allowed burst).

    ``reserve()`` always takes a token, letting the balance go negative, and says how
    long the caller must wait before using it: concurrent senders are thereby spaced
    out exactly, with no polling. The clock is injectable so tests need no sleeps.
    """

    def __init__(self, rate: float, capacity: float = 1.0, clock: Clock = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(capacity, 1.0)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        elapsed = max(now - self._updated, 0.0)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now

    def available(self) -> float:
        """Tokens in the bucket now (negative while reservations are outstanding)."""
        with self._lock:
            self._refill(self._clock())
            return self._tokens

    def reserve(self) -> float:
        """Take one token; seconds to wait before it may be used (0 when one was there)."""
        with self._lock:
            self._refill(self._clock())
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def hold(self, seconds: float) -> None:
        """Give no token for ``seconds`` (the provider told us to slow down)."""
        with self._lock:
            self._refill(self._clock())
            self._tokens = min(self._tokens, 0.0) - seconds * self.rate

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Block until a token is ours."""
        wait = self.reserve()
        if wait > 0:
            sleep(wait)


_buckets: dict[str, TokenBucket] = {}
_buckets_lock = threading.Lock()
# Without a configured limit a messenger still gets a conservative one.
DEFAULT_RATE = 1.0


def bucket_for(messenger: str) -> TokenBucket:
    """This process's bucket for ``messenger``, at settings.rate_limits[messenger] per second.

    Capacity 1: messages are spread evenly instead of bursting, which is what
    providers that count per second (Telegram, WhatsApp) tolerate best.
    """
    rate = get_settings().rate_limits.get(messenger, DEFAULT_RATE)
    with _buckets_lock:
        bucket = _buckets.get(messenger)
        if bucket is None or bucket.rate != rate:
            bucket = _buckets[messenger] = TokenBucket(rate)
        return bucket


def reset() -> None:
    """Forget every bucket (tests, benchmarks that change the limits)."""
    with _buckets_lock:
        _buckets.clear()
