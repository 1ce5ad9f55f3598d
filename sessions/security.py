"""What guards the WebSocket: Origin validation, then who may open an interview and on what terms.

Channels' ``AllowedHostsOriginValidator`` checks Origin against ALLOWED_HOSTS (plus WS_ALLOWED_ORIGINS);
a handshake without Origin is refused, so non-browser clients must send one.

``authorize_connect`` decides the owner of the new interview. Outside DEBUG every interview must belong to
someone (a one-time ticket from ``POST /api/ws-tickets/`` or the Django session cookie) and the candidate
must have consented to recording (asked at start only: a resume continues an interview whose consent is
recorded, and only its owner may resume it); in DEBUG anonymous sessions are allowed so a laptop demo works without an
account, but a ticket that is presented is still checked and consumed. Tickets are never logged.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth import get_user_model

from sessions.access.roles import PERM_RUN_INTERVIEWS
from sessions.protocol import ConnectParams, ErrorCode, ProtocolError
from sessions.tickets import ticket_consume_async

logger = logging.getLogger(__name__)


def allowed_origins() -> list[str]:
    return list(settings.ALLOWED_HOSTS) + list(settings.WS_ALLOWED_ORIGINS)


def websocket_guard(app: Any) -> Any:
    return OriginValidator(AuthMiddlewareStack(app), allowed_origins())


def _active_user_exists(user_id: int) -> bool:
    return get_user_model().objects.filter(pk=user_id, is_active=True).exists()


def _may_run_interviews(user_id: int) -> bool:
    """The interviewer role (``add_interview``), checked on the socket as on the API and the console."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return bool(user is not None and user.has_perm(PERM_RUN_INTERVIEWS))


async def _ticket_user(ticket: str) -> int:
    user_id = await ticket_consume_async(ticket=ticket)
    if user_id is None or not await database_sync_to_async(_active_user_exists)(user_id):
        logger.info("websocket refused: unknown, expired or reused ticket")
        raise ProtocolError(
            ErrorCode.UNAUTHORIZED, "the ticket is unknown, expired or already used; ask for a new one", fatal=True
        )
    return user_id


async def authorize_connect(*, scope: dict[str, Any], params: ConnectParams) -> int | None:
    """Who opens this interview socket: the owner's user id, or None for an anonymous DEBUG session.

    Raises ProtocolError(UNAUTHORIZED, fatal) when the connection may not proceed, and
    ProtocolError(BAD_PARAMETERS, fatal) outside DEBUG when the candidate's consent is missing. A ticket,
    when given, wins over the session cookie: it is what the page asked for just before connecting.
    """
    if params.ticket:
        user_id: int | None = await _ticket_user(params.ticket)
    else:
        user = scope.get("user")
        user_id = int(user.pk) if user is not None and getattr(user, "is_authenticated", False) else None
    if settings.DEBUG:
        return user_id
    if user_id is None:
        logger.info("websocket refused: no ticket and no authenticated session")
        raise ProtocolError(
            ErrorCode.UNAUTHORIZED, "authentication required: connect with ?ticket= from POST /api/ws-tickets/",
            fatal=True,
        )
    if not await database_sync_to_async(_may_run_interviews)(user_id):
        logger.info("websocket refused: user %s may not run interviews", user_id)
        raise ProtocolError(
            ErrorCode.FORBIDDEN, "your account may not run interviews; ask for the interviewer role", fatal=True
        )
    if not params.consent and not params.resume_token:
        # Consent is recorded on the interview when it starts; a resume continues that interview (the
        # consumer checks it belongs to this user), so it is not asked again.
        raise ProtocolError(ErrorCode.BAD_PARAMETERS, "consent is required", fatal=True)
    return user_id


def check_resume_owner(*, session_owner_id: int, user_id: int | None) -> None:
    """Only the session's owner may resume it (an anonymous DEBUG session only anonymously).

    Raises ProtocolError(FORBIDDEN, fatal): a resume token alone is not enough to take over an interview.
    """
    if session_owner_id != (user_id or 0):
        logger.info("websocket refused: resume of a session owned by another user")
        raise ProtocolError(ErrorCode.FORBIDDEN, "this session belongs to another user", fatal=True)
