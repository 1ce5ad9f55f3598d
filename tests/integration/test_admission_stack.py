"""Admission control on the production shape (daphne, Celery worker, Redis, MariaDB): the pool's capacity is
shared through Redis, and the session beyond it is refused with server_busy and close 4503, storing nothing."""

from __future__ import annotations

import asyncio
import json
import os
import time

import MySQLdb
import pytest
import redis
import websockets

pytestmark = [pytest.mark.integration]

IT_CAPACITY = int(os.environ.get("IT_CAPACITY", "12"))  # as tests/integration/conftest.py gives the stack

SLOTS = "iv:{admission}:live_slots"  # sessions.admission.SLOTS


async def _open(url: str, ticket: str) -> tuple[object, dict]:
    ws = await websockets.connect(f"{url}?language=en&consent=1&ticket={ticket}", origin="http://127.0.0.1",
                                  open_timeout=30)
    return ws, json.loads(await asyncio.wait_for(ws.recv(), timeout=30))


def _interviews(db: str) -> int:
    connection = MySQLdb.connect(host="127.0.0.1", user="root", passwd="", db=db)
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT COUNT(*) FROM interview_sessions_interview")
        return int(cursor.fetchone()[0])
    finally:
        connection.close()


def test_the_session_beyond_capacity_is_refused_with_server_busy(live_stack):
    """All but one slot are taken by other sessions (reservations in the shared zset, as other daphne nodes'
    sessions would be): the next session is admitted, the one after it refused."""
    client = redis.Redis.from_url(str(live_stack["redis_url"]))
    client.zremrangebyscore(SLOTS, "-inf", time.time() - 60)
    free = IT_CAPACITY - client.zcard(SLOTS)
    assert free > 0
    others = [f"elsewhere-{i}" for i in range(free - 1)]
    if others:
        client.zadd(SLOTS, {token: time.time() for token in others})
    get_ticket = live_stack["get_ticket"]

    async def scenario() -> tuple[dict, dict, int | None, int, int]:
        admitted, ack = await _open(str(live_stack["url"]), await get_ticket())
        rows_before = _interviews(str(live_stack["db"]))
        ws, refused = await _open(str(live_stack["url"]), await get_ticket())
        await asyncio.wait_for(ws.wait_closed(), timeout=30)
        rows_after = _interviews(str(live_stack["db"]))
        await admitted.close()
        return ack, refused, ws.close_code, rows_before, rows_after

    ack, refused, code, rows_before, rows_after = asyncio.run(scenario())
    try:
        assert ack["type"] == "connection_ack", ack
        assert refused["type"] == "error_message" and refused["code"] == "server_busy" and refused["fatal"], refused
        assert code == 4503
        assert rows_after == rows_before  # the refused session stored nothing
    finally:  # give the slots back so later tests on the shared stack are admitted
        taken = others + ([ack["session_id"]] if ack.get("type") == "connection_ack" else [])
        if taken:
            client.zrem(SLOTS, *taken)
