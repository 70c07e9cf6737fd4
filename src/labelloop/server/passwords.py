"""Checking passwords in the server: the store's login limits first, then a bounded number of
argon2 hashes at once.

An argon2id hash takes 64 MiB and about 100 ms of CPU, so a burst of logins must not start one
hash per request. :meth:`PasswordChecks.login`

1. counts the attempt in the store before anything else (:func:`~labelloop.accounts.throttle.
   reserve`); over a limit: 429 at once, no hash;
2. sleeps the account's backoff delay in the event loop (no thread, no hash memory);
3. hashes in one of ``login_concurrent_hashes`` threads of this process, whose priority is
   lowered so that a burst of logins slows logins, not everyone else's requests; a check that
   finds no thread free within :data:`SLOT_WAIT_SECONDS` gets 429 and is uncounted;
4. marks the attempt ok, or leaves it counted as a failure.

Password changes and resets hash through the same slots (:meth:`PasswordChecks.hash`), and each
hash adds one to ``labelloop_password_hashes_total``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import partial
from typing import TypeVar

import anyio
from sqlalchemy import Engine

from labelloop.accounts import throttle
from labelloop.accounts.users import User, authenticate
from labelloop.errors import AuthError, RateLimited

SLOT_WAIT_SECONDS = 1.0
STORE_THREADS = 2  # threads counting logins in the store at once
HASH_NICENESS = 10  # the hashing threads' nice value: other requests get the CPU first
T = TypeVar("T")


def _lower_priority() -> None:
    # Linux sets a thread's niceness by its id; elsewhere hashes run at the usual priority.
    with suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


class PasswordChecks:
    """This process's password checks over ``engine``, within ``limits``, at most ``slots``
    hashes at a time, in threads of lowered priority; ``counted()`` is called for each hash.
    Make it in the event loop that uses it; :meth:`close` it at shutdown."""

    def __init__(
        self,
        engine: Engine,
        limits: throttle.LoginLimits,
        *,
        slots: int,
        counted: Callable[[], None],
    ) -> None:
        self.engine = engine
        self.limits = limits
        self._slots = asyncio.Semaphore(slots)
        self._threads = ThreadPoolExecutor(
            max_workers=slots, thread_name_prefix="labelloop-hash", initializer=_lower_priority
        )
        self._counted = counted
        self._store = anyio.CapacityLimiter(STORE_THREADS)

    def close(self) -> None:
        """Let the hashing threads end (a hash under way finishes)."""
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def hash(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)``, which computes one argon2 hash, in a hashing thread once a slot is
        free; :class:`RateLimited` if none frees up within :data:`SLOT_WAIT_SECONDS`."""
        try:
            await asyncio.wait_for(self._slots.acquire(), SLOT_WAIT_SECONDS)
        except TimeoutError:
            raise RateLimited(
                "too many passwords are being checked at once", retry_after=1
            ) from None
        self._counted()
        running = asyncio.get_running_loop().run_in_executor(self._threads, partial(fn, *args))
        # The slot is free when the hash is done, even if the request is cancelled before.
        running.add_done_callback(lambda _: self._slots.release())
        return await asyncio.shield(running)

    async def login(self, username: str, password: str, *, ip: str) -> User:
        """The user whose password this is, within the login limits (see the module)."""
        reserve = partial(
            throttle.reserve, self.engine, username=username, ip=ip, limits=self.limits
        )
        reservation = await self._counting(reserve)
        try:
            if reservation.delay:
                await anyio.sleep(reservation.delay)
            user = await self.hash(authenticate, self.engine, username, password)
        except AuthError:
            raise  # a wrong password: the attempt stays counted as a failure
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._counting(partial(throttle.release, self.engine, reservation))
            raise
        await self._counting(partial(throttle.succeeded, self.engine, reservation))
        return user

    async def _counting(self, fn: Callable[[], T]) -> T:
        # The store takes the login counts one at a time anyway: a burst of logins waits here,
        # as coroutines, instead of filling the thread pool that every other request needs.
        return await anyio.to_thread.run_sync(fn, limiter=self._store)
