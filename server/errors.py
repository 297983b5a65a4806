"""Domain errors → canonical gRPC status codes with google.rpc details, in one
interceptor, so handlers stay free of try/except."""

from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from server.catalog import CatalogError, CatalogFullError
from server.domain import FailedPreconditionError, InvalidArgumentError, NotFoundError
from server.embedding import EmbeddingError
from server.images import ImageError

_LOGGER = logging.getLogger(__name__)


def to_status(error: Exception) -> grpc.Status | None:
    """The status for a known error; None for a bug (left to gRPC as UNKNOWN, and logged)."""
    if isinstance(error, InvalidArgumentError):
        return _status(grpc.StatusCode.INVALID_ARGUMENT, str(error), error.violations)
    if isinstance(error, ImageError):
        return _status(grpc.StatusCode.INVALID_ARGUMENT, f"image: {error}", [("image", str(error))])
    if isinstance(error, NotFoundError):
        return _status(grpc.StatusCode.NOT_FOUND, str(error))
    if isinstance(error, FailedPreconditionError):
        return _status(grpc.StatusCode.FAILED_PRECONDITION, str(error))
    if isinstance(error, EmbeddingError):
        return _status(error.code, str(error))
    if isinstance(error, CatalogFullError):
        return _status(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
    if isinstance(error, CatalogError):
        return _status(grpc.StatusCode.UNAVAILABLE, str(error))
    return None


def _status(code: grpc.StatusCode, message: str, violations: list[tuple[str, str]] = ()) -> grpc.Status:
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    if violations:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in violations
                ]
            )
        )
        status.details.append(detail)
    return rpc_status.to_status(status)


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Wraps unary and client-streaming handlers: known errors abort with their status."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _guard(handler.unary_unary, method), handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _guard(handler.stream_unary, method),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return handler


def _guard(behaviour, method: str):
    async def guarded(request, context: grpc.aio.ServicerContext):
        try:
            return await behaviour(request, context)
        except Exception as error:
            status = to_status(error)
            if status is None:
                _LOGGER.exception("%s failed", method)
                raise
            _LOGGER.info("%s → %s: %s", method, status.code.name, status.details)
            await context.abort_with_status(status)

    return guarded
