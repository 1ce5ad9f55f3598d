"""Who may open an interview socket: ``authorize_connect`` directly, and through the real ASGI app with
``WebsocketCommunicator`` outside DEBUG (tickets consumed once, expired ones refused, consent required).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from sessions import state
from sessions.protocol import CloseCode, ErrorCode, ProtocolError, parse_connect
from sessions.security import authorize_connect
from sessions.tickets import ticket_issue, ticket_key

PARAMS = parse_connect("language=en&consent=1")


@pytest.fixture
def user(django_user_model: Any, grant: Any) -> Any:
    return grant(django_user_model.objects.create_user("interviewer"), "interviewer")


def _scope(user: Any = None) -> dict[str, Any]:
    return {"type": "websocket", "user": user or AnonymousUser()}


@pytest.mark.django_db(transaction=True)
@override_settings(DEBUG=False)
async def test_ticket_is_accepted_once(user):
    issued = ticket_issue(user_id=user.pk)
    params = replace(PARAMS, ticket=issued.ticket)
    assert await authorize_connect(scope=_scope(), params=params) == user.pk
    with pytest.raises(ProtocolError) as reused:
        await authorize_connect(scope=_scope(), params=params)
    assert reused.value.code == ErrorCode.UNAUTHORIZED and reused.value.fatal
    assert issued.ticket not in reused.value.message


@pytest.mark.django_db(transaction=True)
@override_settings(DEBUG=False)
async def test_expired_unknown_and_missing_tickets_are_refused(user):
    issued = ticket_issue(user_id=user.pk)
    await state.async_client().delete(ticket_key(issued.ticket))  # what expiry does
    for params in (replace(PARAMS, ticket=issued.ticket), replace(PARAMS, ticket="forged"), PARAMS):
        with pytest.raises(ProtocolError) as refused:
            await authorize_connect(scope=_scope(), params=params)
        assert refused.value.code == ErrorCode.UNAUTHORIZED and refused.value.fatal


@pytest.mark.django_db(transaction=True)
@override_settings(DEBUG=False)
async def test_session_user_and_consent(user, django_user_model):
    assert await authorize_connect(scope=_scope(user), params=PARAMS) == user.pk
    with pytest.raises(ProtocolError) as no_consent:
        await authorize_connect(scope=_scope(user), params=replace(PARAMS, consent=False))
    assert no_consent.value.code == ErrorCode.BAD_PARAMETERS and no_consent.value.message == "consent is required"
    inactive = await django_user_model.objects.acreate(username="gone", is_active=False)
    params = replace(PARAMS, ticket=ticket_issue(user_id=inactive.pk).ticket)
    with pytest.raises(ProtocolError):
        await authorize_connect(scope=_scope(), params=params)


@pytest.mark.django_db(transaction=True)
@override_settings(DEBUG=False)
async def test_accounts_without_the_interviewer_role_are_refused(user, django_user_model, grant):
    """Logged in is not enough: staff without a role, and reviewers, may not run interviews."""
    bare_staff = await django_user_model.objects.acreate(username="bare", is_staff=True)
    reviewer = await django_user_model.objects.acreate(username="rev")
    from asgiref.sync import sync_to_async

    reviewer = await sync_to_async(grant)(reviewer, "reviewer")
    for account in (bare_staff, reviewer):
        for scope, params in [(_scope(account), PARAMS), (_scope(), replace(PARAMS, ticket=ticket_issue(user_id=account.pk).ticket))]:
            with pytest.raises(ProtocolError) as refused:
                await authorize_connect(scope=scope, params=params)
            assert refused.value.code == ErrorCode.FORBIDDEN and refused.value.fatal


@pytest.mark.django_db(transaction=True)
@override_settings(DEBUG=True)
async def test_debug_allows_anonymous_but_honours_tickets(user):
    assert await authorize_connect(scope=_scope(), params=replace(PARAMS, consent=False)) is None
    params = replace(PARAMS, ticket=ticket_issue(user_id=user.pk).ticket)
    assert await authorize_connect(scope=_scope(), params=params) == user.pk
    with pytest.raises(ProtocolError):
        await authorize_connect(scope=_scope(), params=params)  # still one use only


# --- through the ASGI application ------------------------------------------------------------------------------
@pytest.fixture
def asgi_app(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The project's ASGI application, without the embedded Celery worker (no models load in this test)."""
    import analysis.embedded

    monkeypatch.setattr(analysis.embedded, "start_embedded_worker", lambda: None)
    from interview_project.asgi import application

    return application


async def _connect(app: Any, query: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    communicator = WebsocketCommunicator(app, f"/ws/interviews/?{query}", headers=[(b"origin", b"http://127.0.0.1")])
    connected, _ = await communicator.connect()
    assert connected
    return communicator, json.loads(await communicator.receive_from(timeout=5))


@pytest.mark.django_db(transaction=True)
@override_settings(DEBUG=False)
async def test_websocket_ticket_flow(asgi_app, user):
    from sessions.models import Interview

    ticket = ticket_issue(user_id=user.pk).ticket
    communicator, first = await _connect(asgi_app, f"language=en&consent=1&ticket={ticket}")
    assert first["type"] == "connection_ack"
    interview = await Interview.objects.aget(pk=first["session_id"])
    assert interview.owner_id == user.pk
    await communicator.disconnect()
    state.delete_session(first["session_id"])

    for query, code in [
        (f"language=en&consent=1&ticket={ticket}", ErrorCode.UNAUTHORIZED),  # reused
        ("language=en&consent=1", ErrorCode.UNAUTHORIZED),  # none
        (f"language=en&ticket={ticket_issue(user_id=user.pk).ticket}", ErrorCode.BAD_PARAMETERS),  # no consent
    ]:
        communicator, frame = await _connect(asgi_app, query)
        assert frame["type"] == "error_message" and frame["code"] == code and frame["fatal"] is True
        closed = await communicator.receive_output(timeout=5)
        assert closed["type"] == "websocket.close"
        assert closed["code"] == (CloseCode.UNAUTHORIZED if code == ErrorCode.UNAUTHORIZED else CloseCode.BAD_PARAMETERS)
    assert await Interview.objects.acount() == 1  # refused sockets created nothing


@pytest.mark.django_db(transaction=True)
@override_settings(DEBUG=False)
async def test_websocket_without_origin_is_refused(asgi_app):
    communicator = WebsocketCommunicator(asgi_app, "/ws/interviews/?language=en&consent=1")
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.django_db(transaction=True)
@override_settings(DEBUG=False)
async def test_websocket_uses_only_question_sets_the_owner_may_see(asgi_app, user, django_user_model):
    """Somebody else's private set is "unknown" on the socket too: its answer key cannot be used or probed."""
    from analysis.models import QuestionSet
    from sessions.models import Interview

    stranger = await django_user_model.objects.acreate(username="stranger")
    await QuestionSet.objects.acreate(name="Secret", slug="stranger-secret", language="en", owner=stranger)
    await QuestionSet.objects.acreate(name="Mine", slug="mine", language="en", owner=user)
    ticket = ticket_issue(user_id=user.pk).ticket
    communicator, frame = await _connect(asgi_app, f"language=en&consent=1&question_set=stranger-secret&ticket={ticket}")
    assert frame["type"] == "error_message" and frame["code"] == ErrorCode.BAD_PARAMETERS
    assert "unknown question_set" in frame["message"]
    assert (await communicator.receive_output(timeout=5))["code"] == CloseCode.BAD_PARAMETERS
    ticket = ticket_issue(user_id=user.pk).ticket
    communicator, ack = await _connect(asgi_app, f"language=en&consent=1&question_set=mine&ticket={ticket}")
    assert ack["type"] == "connection_ack"
    interview = await Interview.objects.select_related("question_set").aget(pk=ack["session_id"])
    assert interview.question_set is not None and interview.question_set.slug == "mine"
    await communicator.disconnect()
    state.delete_session(ack["session_id"])
