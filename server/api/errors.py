"""Domain errors → canonical gRPC status codes with google.rpc details (BadRequest field
violations), for the error interceptor and the web console alike."""

from __future__ import annotations

import sqlite3

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from server.catalog.sqlite import CatalogCorruptError, CatalogError, CatalogFullError, is_corrupt
from server.domain import (
    AlreadyExistsError,
    Code,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnavailableError,
)
from server.models.embedding import EmbeddingError
from server.models.images import ImageError

_BY_ERROR: list[tuple[type[Exception], Code]] = [
    (InvalidArgumentError, Code.INVALID_ARGUMENT),
    (NotFoundError, Code.NOT_FOUND),
    (AlreadyExistsError, Code.ALREADY_EXISTS),
    (PermissionDeniedError, Code.PERMISSION_DENIED),
    (FailedPreconditionError, Code.FAILED_PRECONDITION),
    (ResourceExhaustedError, Code.RESOURCE_EXHAUSTED),
    (DeadlineExceededError, Code.DEADLINE_EXCEEDED),
    (UnavailableError, Code.UNAVAILABLE),
    (CatalogFullError, Code.RESOURCE_EXHAUSTED),  # before their base class
    (CatalogCorruptError, Code.DATA_LOSS),
    (CatalogError, Code.UNAVAILABLE),
]


def grpc_code(code: Code) -> grpc.StatusCode:
    return grpc.StatusCode[code.name]


def to_status(error: Exception) -> grpc.Status | None:
    """The status for a known error; None for a bug (left to gRPC as UNKNOWN, and logged)."""
    if isinstance(error, InvalidArgumentError):
        return _status(Code.INVALID_ARGUMENT, str(error), error.violations)
    if isinstance(error, ImageError):
        return _status(Code.INVALID_ARGUMENT, f"image: {error}", [("image", str(error))])
    if isinstance(error, EmbeddingError):
        return _status(error.code, str(error))
    for kind, code in _BY_ERROR:
        if isinstance(error, kind):
            return _status(code, str(error))
    if isinstance(error, sqlite3.Error):  # a store path that did not name its failure
        if is_corrupt(error):
            return _status(Code.DATA_LOSS, f"a catalog file is damaged ({error}); restore it from a backup")
        return _status(Code.INTERNAL, f"catalog storage failed ({error})")
    return None


def _status(code: Code, message: str, violations: list[tuple[str, str]] | None = None) -> grpc.Status:
    status = status_pb2.Status(code=int(code), message=message)
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
