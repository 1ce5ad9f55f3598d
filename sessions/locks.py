"""Short-lived Redis locks that stay held while their owner is alive, and expire soon after it dies.

Why renewal instead of a long TTL: a lock must outlive the longest step it guards (a Whisper decode, a
finalize), but a worker killed with ``kill -9`` must not stall the session for that long. So each lock has a
short TTL (``LOCK_TTL_S``) and one daemon thread per process renews every lock the process holds every
2 seconds. A dead process stops renewing and its locks expire within ``LOCK_TTL_S``.

Compare-and-delete / compare-and-extend use WATCH/MULTI rather than Lua, so the embedded fakeredis needs none.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis

from sessions import state

logger = logging.getLogger(__name__)

LOCK_TTL_S = 20


class LockBusy(Exception):
    """Another live process holds the lock."""


class _Renewer:
    """The process's one renewal thread and the locks it keeps alive (name -> token)."""

    def __init__(self) -> None:
        self.held: dict[str, tuple[str, float]] = {}  # name -> (token, ttl_s)
        self.guard = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0
        self.wake = threading.Event()

    def add(self, name: str, token: str, ttl_s: float) -> None:
        with self.guard:
            self.held[name] = (token, ttl_s)
            if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():  # forked worker child
                self.pid = os.getpid()
                self.wake = threading.Event()
                self.thread = threading.Thread(target=self._run, name="lock-renewer", daemon=True)
                self.thread.start()
        self.wake.set()  # re-read the interval now (a lock with a short TTL must not wait for a long sleep)

    def remove(self, name: str, token: str) -> None:
        """Forget lock ``name`` only if it is still this ``token``'s (the name may be held again meanwhile)."""
        with self.guard:
            if self.held.get(name, ("", 0.0))[0] == token:
                del self.held[name]

    def _run(self) -> None:
        while True:
            # Often, so a loaded machine (a starved thread) still renews many times within one TTL.
            with self.guard:
                shortest = min((ttl for _token, ttl in self.held.values()), default=LOCK_TTL_S)
            self.wake.wait(min(2.0, shortest / 5))
            self.wake.clear()
            with self.guard:
                items = list(self.held.items())
            for name, (token, ttl_s) in items:
                try:
                    if not extend(name, token, ttl_s):
                        with self.guard:
                            current = self.held.get(name, ("", 0.0))[0] == token
                        if current:  # not merely released (and maybe re-taken) since the snapshot
                            logger.warning("lock %s was lost before its owner finished", name)
                            self.remove(name, token)
                except redis.RedisError:
                    logger.warning("could not renew lock %s; will try again", name)


_renewer = _Renewer()


def _after_fork_in_child() -> None:
    """A forked child (a prefork pool process) starts with no locks, no renewer and a fresh guard: a guard
    copied while the parent's renewer held it would stay locked forever in the child."""
    global _renewer
    _renewer = _Renewer()


os.register_at_fork(after_in_child=_after_fork_in_child)


def extend(name: str, token: str, ttl_s: float) -> bool:
    """Push back the lock's expiry if ``token`` still owns it."""
    return _if_owner(name, token, lambda pipe: pipe.pexpire(name, int(ttl_s * 1000)))


def release(name: str, token: str) -> bool:
    return _if_owner(name, token, lambda pipe: pipe.delete(name))


def _if_owner(name: str, token: str, command: Callable[[Any], Any]) -> bool:
    """Run ``command`` on the lock key in a WATCH/MULTI transaction if ``token`` still owns it.

    A WatchError means the key was touched between WATCH and EXEC, and that is usually our own renewer's
    PEXPIRE (it may be renewing the lock at the moment its owner releases it): so look again, never give up
    on the first conflict. Giving up there left the lock in Redis after its owner was done, so every other
    task of that stage found it busy until it expired (``LOCK_TTL_S``), and a finalize gave up on it.
    """
    with state.sync_client().pipeline() as pipe:
        while True:
            try:
                pipe.watch(name)
                if pipe.get(name) != token.encode():
                    pipe.unwatch()
                    return False
                pipe.multi()
                command(pipe)
                pipe.execute()
                return True
            except redis.WatchError:
                continue


@contextmanager
def held(name: str, *, wait_s: float = 0.0, ttl_s: float = LOCK_TTL_S) -> Iterator[str]:
    """Hold lock ``name`` (SET NX PX with a token) for the block, renewed in the background; yields the token.

    Raises ``LockBusy`` when another owner still holds it after ``wait_s`` seconds.
    """
    client = state.sync_client()
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait_s
    delay = 0.002
    while not client.set(name, token, nx=True, px=int(ttl_s * 1000)):
        if time.monotonic() >= deadline:
            raise LockBusy(name)
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    _renewer.add(name, token, ttl_s)
    try:
        yield token
    finally:
        _renewer.remove(name, token)
        try:
            if not release(name, token):
                logger.warning("lock %s expired or changed hands before release", name)
        except redis.RedisError:
            logger.warning("could not release lock %s; it expires in %s s", name, ttl_s)


def owns(name: str, token: str) -> bool:
    """Whether ``token`` still holds ``name`` (checked before a final write)."""
    return state.sync_client().get(name) == token.encode()
