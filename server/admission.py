"""Admission control: a bounded number of ProductSearch calls run at once, a bounded
number wait briefly for a slot, and the rest are answered RESOURCE_EXHAUSTED at once —
under a spike, clients get a fast signal to back off instead of a queue that grows until
every deadline expires. Calls that bring no deadline get the server's default.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import grpc

from server.access import SERVICE_PREFIX

_LOGGER = logging.getLogger(__name__)


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
            except asyncio.TimeoutError:
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


class AdmissionInterceptor(grpc.aio.ServerInterceptor):
    """Applies `Admission` and default deadlines to the ProductSearch service's calls."""

    def __init__(self, limits: AdmissionLimits) -> None:
        self.admission = Admission(limits)

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith(SERVICE_PREFIX):
            return handler
        if handler.unary_unary:
            wrap, behaviour = grpc.unary_unary_rpc_method_handler, handler.unary_unary
            default_deadline = self.admission.limits.default_deadline_s
        elif handler.stream_unary:
            wrap, behaviour = grpc.stream_unary_rpc_method_handler, handler.stream_unary
            default_deadline = self.admission.limits.stream_deadline_s
        else:
            return handler
        admitted = self._admitted(behaviour, handler_call_details.method, default_deadline)
        return wrap(admitted, handler.request_deserializer, handler.response_serializer)

    def _admitted(self, behaviour, method: str, default_deadline: float):
        async def admitted(request, context: grpc.aio.ServicerContext):
            remaining = context.time_remaining()
            budget = default_deadline if remaining is None else remaining
            try:
                async with self.admission.slot(budget):
                    if remaining is not None:  # gRPC itself enforces the caller's deadline
                        return await behaviour(request, context)
                    try:
                        return await asyncio.wait_for(behaviour(request, context), default_deadline)
                    except asyncio.TimeoutError:
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
