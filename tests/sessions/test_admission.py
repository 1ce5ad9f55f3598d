"""Admission control through the real ASGI app: a session beyond capacity is refused with server_busy
(close 4503) or, with queue=1, waits in line and is admitted when a slot frees; a resume is never refused."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from interview_project.asgi import application
from sessions import admission, state
from sessions.models import Interview

pytestmark = [pytest.mark.django_db(transaction=True)]

ORIGIN = [(b"origin", b"http://127.0.0.1")]


@pytest.fixture(autouse=True)
def _capacity(settings):
    settings.DEBUG = True
    settings.LIVE_SESSION_CAPACITY = 2
    settings.ADMISSION_QUEUE_TIMEOUT_S = 20.0
    client = state.sync_client()
    client.delete(admission.SLOTS, admission.WAITING, admission.WAITING_SEEN)
    yield
    client.delete(admission.SLOTS, admission.WAITING, admission.WAITING_SEEN)


async def open_socket(query: str = "language=en") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/interviews/?{query}", headers=ORIGIN)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def test_a_session_beyond_capacity_is_refused_with_server_busy():
    first, second = await open_socket(), await open_socket()
    acks = [await first.receive_json_from(timeout=10), await second.receive_json_from(timeout=10)]
    assert [a["type"] for a in acks] == ["connection_ack", "connection_ack"]

    third = await open_socket()
    error = await third.receive_json_from(timeout=10)
    assert error["type"] == "error_message" and error["code"] == "server_busy" and error["fatal"] is True
    assert (await third.receive_output(timeout=10)) == {"type": "websocket.close", "code": 4503}
    assert await Interview.objects.acount() == 2  # the refused session left nothing behind

    # a resume of an admitted interview is never refused, even at capacity
    await first.disconnect()
    again = await open_socket(f"resume={acks[0]['resume_token']}")
    resumed = await again.receive_json_from(timeout=10)
    assert resumed["type"] == "connection_ack" and resumed["session_id"] == acks[0]["session_id"]
    for communicator in (second, again):
        await communicator.disconnect()


async def test_a_queued_session_waits_for_a_slot_then_is_admitted():
    first, second = await open_socket(), await open_socket()
    ack = await first.receive_json_from(timeout=10)
    await second.receive_json_from(timeout=10)

    waiting = await open_socket("language=en&queue=1")
    queued = await waiting.receive_json_from(timeout=10)
    assert queued == {"type": "queued", "position": 1, "capacity": 2}
    # a newcomer without queue=1 does not jump the line
    other = await open_socket()
    assert (await other.receive_json_from(timeout=10))["code"] == "server_busy"

    await sync_to_async(admission.slot_release)(session_id=ack["session_id"])  # the first interview completed
    admitted = await waiting.receive_json_from(timeout=10)
    assert admitted["type"] == "connection_ack"
    assert await sync_to_async(admission.live_sessions)() == 2
    for communicator in (first, second, waiting):
        await communicator.disconnect()


async def test_an_idle_slot_is_given_up(settings):
    settings.ADMISSION_IDLE_S = 0.5
    first, second = await open_socket(), await open_socket()
    await first.receive_json_from(timeout=10)
    await second.receive_json_from(timeout=10)
    await asyncio.sleep(0.7)  # neither sent audio: abandoned sockets do not hold the service hostage
    third = await open_socket()
    assert (await third.receive_json_from(timeout=10))["type"] == "connection_ack"
    for communicator in (first, second, third):
        await communicator.disconnect()


async def test_a_client_that_stops_waiting_leaves_the_line(settings):
    settings.LIVE_SESSION_CAPACITY = 1
    first = await open_socket()
    ack = await first.receive_json_from(timeout=10)
    a = await open_socket("language=en&queue=1")
    assert (await a.receive_json_from(timeout=10))["position"] == 1
    b = await open_socket("language=en&queue=1")
    assert (await b.receive_json_from(timeout=10))["position"] == 2
    await a.disconnect()  # gave up: the next in line moves up at once
    assert (await b.receive_json_from(timeout=10)) == {"type": "queued", "position": 1, "capacity": 1}
    await sync_to_async(admission.slot_release)(session_id=ack["session_id"])
    assert (await b.receive_json_from(timeout=10))["type"] == "connection_ack"
    assert await sync_to_async(state.sync_client().zcard)(admission.WAITING) == 0
    for communicator in (first, b):
        await communicator.disconnect()
