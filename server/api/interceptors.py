"""The one wrapper every interceptor uses: run each call of a method inside an async
context (a scope), whatever its RPC kind — unary or streaming, requests or responses.

A scope may refuse the call (abort in `__aenter__`), keep state for it (a contextvar, a
slot), or turn an exception into a status (in `__aexit__`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from server.api.errors import to_status

_LOGGER = logging.getLogger(__name__)

SERVICE_PREFIX = "/productsearch.v1.ProductSearch/"

Scope = Callable[[grpc.aio.ServicerContext], contextlib.AbstractAsyncContextManager]

_KINDS = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


def wrap_handler(handler: grpc.RpcMethodHandler, scope: Scope) -> grpc.RpcMethodHandler:
    """`handler` with its behaviour run inside `scope(context)`; for streamed responses the
    scope spans the whole stream."""
    for kind, make in _KINDS.items():
        behaviour = getattr(handler, kind)
        if behaviour is None:
            continue
        if kind.endswith("_stream"):

            async def streaming(request: Any, context: grpc.aio.ServicerContext, behaviour=behaviour):
                async with scope(context):
                    async for response in behaviour(request, context):
                        yield response

            wrapped: Callable = streaming
        else:

            async def unary(request: Any, context: grpc.aio.ServicerContext, behaviour=behaviour):
                async with scope(context):
                    return await behaviour(request, context)

            wrapped = unary
        return make(wrapped, handler.request_deserializer, handler.response_serializer)
    return handler


class ScopedInterceptor(grpc.aio.ServerInterceptor):
    """Base class: `scope(method, details)` gives the per-call scope for `method`, or None
    to leave the method alone."""

    def scope(
        self, method: str, details: grpc.HandlerCallDetails
    ) -> Scope | None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        scope = self.scope(handler_call_details.method, handler_call_details)
        return handler if scope is None else wrap_handler(handler, scope)


class ErrorInterceptor(ScopedInterceptor):
    """Known errors of the handler abort with their status; bugs stay UNKNOWN and are logged."""

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
