"""The retry policy of every plain-Redis client (live state, channel layer).

A pool built from a URL retries nothing unless told: after a Redis restart (or failover, or a dropped socket)
each pooled connection failed its next command once, so a consumer whose channel receive failed died (1011) and
a frame's Redis call errored. With this policy the command reconnects and is sent again, with exponential backoff
from 50 ms capped at 1 s, ``REDIS_RETRIES`` times (10: about 6 s of outage).
"""

from __future__ import annotations

from typing import Any

from redis.backoff import ExponentialBackoff


def redis_retry(retries: int, *, asyncio: bool = False) -> Any:
    """A fresh Retry (redis-py copies it per connection); the asyncio kind for ``redis.asyncio`` pools."""
    backoff = ExponentialBackoff(cap=1.0, base=0.05)
    if asyncio:
        from redis.asyncio.retry import Retry as AsyncRetry

        return AsyncRetry(backoff, retries)
    from redis.retry import Retry

    return Retry(backoff, retries)
