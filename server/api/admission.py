"""Admission control: a bounded number of ProductSearch calls run at once, a bounded
number wait briefly for a slot, and the rest are answered RESOURCE_EXHAUSTED at once —
under a spike, clients get a fast signal to back off instead of a queue that grows until
every deadline expires. Calls that bring no deadline get the server's default.

Writers do not take readers' slots: an UpsertProducts stream holds none while it is open
(idle streams cost nothing but their count, and end after `stream_idle_s` of silence);
each batch it sends takes a slot of the writers' own, smaller budget (`batch_slot`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc

from server.api.interceptors import SERVICE_PREFIX, Scope, ScopedInterceptor
from server.domain import ResourceExhaustedError

_LOGGER = logging.getLogger(__name__)

# Client-streaming calls: no read slot, the longer default deadline, an idle timeout.
STREAMING_METHODS = {SERVICE_PREFIX + "UpsertProducts"}
# Calls that run long by design (training on the whole catalog): the longer default deadline.
LONG_METHODS = STREAMING_METHODS | {SERVICE_PREFIX + "TrainProjection", SERVICE_PREFIX + "TrainImageHead"}


@dataclass(frozen=True)
class AdmissionLimits:
    max_in_flight: int = 64  # reads (unary calls) running at once
    max_queued: int = 128  # reads waiting for a slot; beyond: RESOURCE_EXHAUSTED at once
    queue_wait_s: float = 2.0  # how long a read may wait for a slot
    max_write_batches: int = 4  # upsert batches being embedded and committed at once
    max_write_streams: int = 128  # UpsertProducts streams open at once; beyond: RESOURCE_EXHAUSTED
    stream_idle_s: float = 30.0  # a stream silent this long is ended (DEADLINE_EXCEEDED)
    default_deadline_s: float = 30.0  # for calls without a deadline
    long_deadline_s: float = 600.0  # for LONG_METHODS calls without a deadline (streams, training)


class BusyError(Exception):
    """No slot within the allowed wait."""


class Admission:
    """Slots: `max_in_flight` holders at once, at most `max_queued` waiting."""

    def __init__(self, max_in_flight: int, max_queued: int) -> None:
        self.max_in_flight = max_in_flight
        self.max_queued = max_queued
        self._slots = asyncio.Semaphore(max_in_flight)
        self.queued = 0
        self.rejected = 0

    @contextlib.asynccontextmanager
    async def slot(self, wait_s: float) -> AsyncIterator[None]:
        if self._slots.locked():
            if self.queued >= self.max_queued:
                self.rejected += 1
                raise BusyError(f"{self.max_in_flight} running and {self.queued} waiting")
            self.queued += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), wait_s)
            except TimeoutError:
                self.rejected += 1
                raise BusyError(f"no free slot within {wait_s:g} s") from None
            finally:
                self.queued -= 1
        else:
            await self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()


@dataclass(frozen=True)
class _Batches:
    admission: Admission
    deadline: float  # loop time by which the stream must end


# The writers' budget of the current UpsertProducts stream (set by AdmissionInterceptor).
_BATCHES: contextvars.ContextVar[_Batches | None] = contextvars.ContextVar("batches", default=None)


@contextlib.asynccontextmanager
async def batch_slot() -> AsyncIterator[None]:
    """Around each upsert batch: a slot of the writers' budget, waited for as long as the
    stream's deadline allows (a no-op outside an admitted stream)."""
    batches = _BATCHES.get()
    if batches is None:
        yield
        return
    wait_s = max(batches.deadline - asyncio.get_running_loop().time(), 0.001)
    try:
        async with batches.admission.slot(wait_s):
            yield
    except BusyError as busy:
        raise ResourceExhaustedError(f"server busy writing ({busy}); retry with backoff") from None


class AdmissionInterceptor(ScopedInterceptor):
    """Applies the read and write budgets and default deadlines to ProductSearch calls."""

    def __init__(self, limits: AdmissionLimits, reads: Admission | None = None) -> None:
        self.limits = limits
        # The read budget; the web console shares it (server/api/web.py).
        self.admission = reads or Admission(limits.max_in_flight, limits.max_queued)
        # Every open stream may wait for a batch slot: the queue is the streams' cap.
        self.writes = Admission(limits.max_write_batches, limits.max_write_streams)
        self.open_streams = 0

    def idle_s(self, method: str) -> float | None:
        return self.limits.stream_idle_s if method in STREAMING_METHODS else None

    def scope(self, method: str, details: grpc.HandlerCallDetails) -> Scope | None:
        if not method.startswith(SERVICE_PREFIX):
            return None
        streaming = method in STREAMING_METHODS
        long = method in LONG_METHODS
        default_deadline = self.limits.long_deadline_s if long else self.limits.default_deadline_s

        @contextlib.asynccontextmanager
        async def admitted(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
            remaining = context.time_remaining()
            budget = default_deadline if remaining is None else remaining
            try:
                async with (
                    self._stream(budget)
                    if streaming
                    else self.admission.slot(min(budget, self.limits.queue_wait_s))
                ):
                    if remaining is not None:  # gRPC itself enforces the caller's deadline
                        yield
                        return
                    try:
                        async with asyncio.timeout(default_deadline):
                            yield
                    except TimeoutError:
                        message = (
                            f"no deadline was set and the server's default of {default_deadline:g} s passed"
                        )
                        await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, message)
            except BusyError as busy:
                _LOGGER.warning("%s → RESOURCE_EXHAUSTED: %s", method, busy)
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED, f"server busy ({busy}); retry with backoff"
                )

        return admitted

    @contextlib.asynccontextmanager
    async def _stream(self, budget_s: float) -> AsyncIterator[None]:
        """An upsert stream: counted against the streams' cap, no slot held while open."""
        if self.open_streams >= self.limits.max_write_streams:
            self.writes.rejected += 1
            raise BusyError(f"{self.open_streams} upsert streams open")
        self.open_streams += 1
        token = _BATCHES.set(_Batches(self.writes, asyncio.get_running_loop().time() + budget_s))
        try:
            yield
        finally:
            _BATCHES.reset(token)
            self.open_streams -= 1
