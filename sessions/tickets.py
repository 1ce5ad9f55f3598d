"""One-time WebSocket tickets: how a browser that holds a token (not a cookie) opens the interview socket.

Why tickets: browsers cannot set headers on a WebSocket handshake, and a long-lived API token in a URL ends
up in proxy logs. ``POST /api/ws-tickets/`` trades the caller's credentials for a random ticket that is
valid for ``TICKET_TTL_S`` seconds and can be used once (Redis ``GETDEL``), so a leaked URL is worthless.

Only a SHA-256 digest of the ticket is stored as the key: a Redis dump or ``MONITOR`` never shows a usable
ticket. The value is the user id the ticket stands for. Tickets and their digests are never logged.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sessions import state

TICKET_TTL_S = 60
TICKET_BYTES = 24


def ticket_key(ticket: str) -> str:
    """Redis key of a ticket: the state prefix, then a digest so the key itself cannot be replayed."""
    digest = hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{state.PREFIX}:ticket:{digest}"


@dataclass(frozen=True)
class IssuedTicket:
    ticket: str
    expires_in: int
    ws_url: str


def ticket_issue(*, user_id: int, ttl_s: int = TICKET_TTL_S) -> IssuedTicket:
    """Store a fresh ticket for ``user_id``; it expires after ``ttl_s`` seconds even if nobody uses it."""
    if user_id <= 0:
        raise ValueError("tickets are issued to authenticated users only")
    ticket = secrets.token_urlsafe(TICKET_BYTES)
    state.sync_client().set(ticket_key(ticket), str(user_id), ex=ttl_s, nx=True)
    return IssuedTicket(ticket=ticket, expires_in=ttl_s, ws_url=f"/ws/interviews/?ticket={ticket}")


def _user_id(raw: bytes | str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def ticket_consume(*, ticket: str) -> int | None:
    """The ticket's user id, removing the ticket in the same command; None if unknown, expired or used."""
    if not ticket:
        return None
    return _user_id(state.sync_client().getdel(ticket_key(ticket)))


async def ticket_consume_async(*, ticket: str) -> int | None:
    """``ticket_consume`` for the consumer's event loop (no blocking Redis call inside ``async def``)."""
    if not ticket:
        return None
    return _user_id(await state.async_client().getdel(ticket_key(ticket)))
