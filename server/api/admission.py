"""Admission control: a bounded number of ProductSearch calls run at once, a bounded
number wait briefly for a slot, and the rest are answered RESOURCE_EXHAUSTED at once —
under a spike, clients get a fast signal to back off instead of a queue that grows until
every deadline expires. Calls that bring no deadline get the server's default.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc

from server.api.interceptors import SERVICE_PREFIX, Scope, ScopedInterceptor

_LOGGER = logging.getLogger(__name__)

# Client-streaming calls get the longer default deadline.
STREAMING_METHODS = {SERVICE_PREFIX + "UpsertProducts"}


@dataclass(frozen=True)
class AdmissionLimits:
    max_in_flight: int = 64  # calls running at once
    max_queued: int = 128  # calls waiting for a slot; beyond: RESOURCE_EXHAUSTED at once
    queue_wait_s: float = 2.0  # how long one may wait for a slot
    default_deadline_s: float = 30.0  # for calls without a deadline
    stream_deadline_s: float = 600.0  # for UpsertProducts streams without a deadline


class BusyError(Exception):
    """No slot within the allowed wait."""


class Admission:
    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.max_in_flight)
        self.queued = 0
        self.rejected = 0

    @contextlib.asynccontextmanager
    async def slot(self, wait_s: float):
        if self._slots.locked():
            if self.queued >= self.limits.max_queued:
                self.rejected += 1
                raise BusyError(f"{self.limits.max_in_flight} calls running and {self.queued} waiting")
            self.queued += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), min(wait_s, self.limits.queue_wait_s))
            except TimeoutError:
                self.rejected += 1
                raise BusyError(f"no free slot within {self.limits.queue_wait_s:g} s") from None
            finally:
                self.queued -= 1
        else:
            await self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()


class AdmissionInterceptor(ScopedInterceptor):
    """Applies `Admission` and default deadlines to the ProductSearch service's calls."""

    def __init__(self, limits: AdmissionLimits) -> None:
        self.admission = Admission(limits)

    def scope(self, method: str, details: grpc.HandlerCallDetails) -> Scope | None:
        if not method.startswith(SERVICE_PREFIX):
            return None
        limits = self.admission.limits
        default_deadline = (
            limits.stream_deadline_s if method in STREAMING_METHODS else limits.default_deadline_s
        )

        @contextlib.asynccontextmanager
        async def admitted(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
            remaining = context.time_remaining()
            try:
                async with self.admission.slot(default_deadline if remaining is None else remaining):
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
