"""Default deadlines of calls that bring none (server/api/admission.py): reads get the
short one, training calls the long one, so a training on a loaded machine is not cut off."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from server.api.admission import AdmissionInterceptor, AdmissionLimits
from server.api.interceptors import SERVICE_PREFIX


class FakeContext:
    """A fake servicer context for this unit test: no deadline; records an abort."""

    def __init__(self) -> None:
        self.aborted: grpc.StatusCode | None = None

    def time_remaining(self) -> None:
        return None

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.aborted = code
        raise asyncio.CancelledError  # what grpc's abort does: the handler stops


async def ended_by_default_deadline(method: str, runs_s: float) -> bool:
    limits = AdmissionLimits(default_deadline_s=0.05, long_deadline_s=5.0)
    scope = AdmissionInterceptor(limits).scope(SERVICE_PREFIX + method, None)
    context = FakeContext()
    try:
        async with scope(context):
            await asyncio.sleep(runs_s)
    except asyncio.CancelledError:
        pass
    return context.aborted == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize("method", ["SearchByText", "GetStats"])
def test_reads_without_a_deadline_get_the_short_default(method):
    assert asyncio.run(ended_by_default_deadline(method, runs_s=0.3))


@pytest.mark.parametrize("method", ["TrainProjection", "TrainImageHead"])
def test_training_without_a_deadline_gets_the_long_default(method):
    assert not asyncio.run(ended_by_default_deadline(method, runs_s=0.3))
