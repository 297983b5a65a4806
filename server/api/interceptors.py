"""The one wrapper every interceptor uses: run each call of a method inside an async
context (a scope), whatever its RPC kind — unary or streaming, requests or responses.

A scope may refuse the call (abort in `__aenter__`), keep state for it (a contextvar, a
slot), or turn an exception into a status (in `__aexit__`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from server.api.errors import to_status
from server.domain import DeadlineExceededError, InvalidArgumentError

_LOGGER = logging.getLogger(__name__)

SERVICE_PREFIX = "/productsearch.v1.ProductSearch/"

Scope = Callable[[grpc.aio.ServicerContext], contextlib.AbstractAsyncContextManager]

_KINDS = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


@dataclass(frozen=True)
class _Malformed:
    """What a request that does not parse (invalid UTF-8 in a string, a broken field) is
    deserialized to, so that it becomes INVALID_ARGUMENT instead of gRPC's UNKNOWN."""

    error: str


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError as error:
            return _Malformed(str(error)[:200])

    return deserialize


def _checked(request: Any) -> Any:
    if isinstance(request, _Malformed):
        raise InvalidArgumentError([("request", f"is not a valid protobuf message: {request.error}")])
    return request


async def _checked_stream(
    requests: AsyncIterator[Any], check: bool, idle_s: float | None
) -> AsyncIterator[Any]:
    iterator = aiter(requests)
    while True:
        try:
            request = await (anext(iterator) if idle_s is None else asyncio.wait_for(anext(iterator), idle_s))
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise DeadlineExceededError(f"the stream sent nothing for {idle_s:g} s") from None
        yield _checked(request) if check else request


def wrap_handler(
    handler: grpc.RpcMethodHandler, scope: Scope, check_requests: bool = False, idle_s: float | None = None
) -> grpc.RpcMethodHandler:
    """`handler` with its behaviour run inside `scope(context)`; for streamed responses the
    scope spans the whole stream. With `check_requests`, a request that does not parse
    raises InvalidArgumentError inside the scope (for streamed requests, when it is read);
    with `idle_s`, a request stream that sends nothing for that long raises
    DeadlineExceededError."""
    kind = next((k for k in _KINDS if getattr(handler, k) is not None), None)
    if kind is None:
        return handler
    behaviour = getattr(handler, kind)

    def checked(request: Any) -> Any:
        if kind.startswith("stream_"):
            return _checked_stream(request, check_requests, idle_s) if check_requests or idle_s else request
        return _checked(request) if check_requests else request

    if kind.endswith("_stream"):

        async def streaming(request: Any, context: grpc.aio.ServicerContext):
            async with scope(context):
                async for response in behaviour(checked(request), context):
                    yield response

        wrapped: Callable = streaming
    else:

        async def unary(request: Any, context: grpc.aio.ServicerContext):
            async with scope(context):
                return await behaviour(checked(request), context)

        wrapped = unary
    deserializer = _tolerant(handler.request_deserializer) if check_requests else handler.request_deserializer
    return _KINDS[kind](wrapped, deserializer, handler.response_serializer)


class ScopedInterceptor(grpc.aio.ServerInterceptor):
    """Base class: `scope(method, details)` gives the per-call scope for `method`, or None
    to leave the method alone."""

    check_requests = False  # see wrap_handler

    def idle_s(self, method: str) -> float | None:
        """How long a request stream of `method` may stay silent (None: no limit)."""
        return None

    def scope(
        self, method: str, details: grpc.HandlerCallDetails
    ) -> Scope | None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        scope = self.scope(handler_call_details.method, handler_call_details)
        method = handler_call_details.method
        return (
            handler
            if scope is None
            else wrap_handler(handler, scope, self.check_requests, self.idle_s(method))
        )


class ErrorInterceptor(ScopedInterceptor):
    """Known errors of the handler abort with their status; bugs stay UNKNOWN and are logged.
    A request that does not parse is INVALID_ARGUMENT."""

    check_requests = True

    def scope(self, method: str, details: grpc.HandlerCallDetails) -> Scope:
        @contextlib.asynccontextmanager
        async def mapped(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
            try:
                yield
            except Exception as error:
                status = to_status(error)
                if status is None:
                    _LOGGER.exception("%s failed", method)
                    raise
                _LOGGER.info("%s → %s: %s", method, status.code.name, status.details)
                await context.abort_with_status(status)

        return mapped
