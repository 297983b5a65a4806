"""One exception for every failed call, with the google.rpc.BadRequest field violations the
service attaches to INVALID_ARGUMENT (server/errors.py sends them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from productsearch_client._proto import rpc_status_pb2

# The trailer in which gRPC carries a google.rpc.Status with typed details.
STATUS_DETAILS_KEY = "grpc-status-details-bin"
_BAD_REQUEST_TYPE = "google.rpc.BadRequest"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request: its path (e.g. "options.top_k") and what is wrong."""

    field: str
    description: str


class ProductSearchError(Exception):
    """A call that failed: its gRPC status `code`, the service's `message` and, for bad input,
    every `field_violations` entry the service reported."""

    def __init__(
        self, code: grpc.StatusCode, message: str, field_violations: Sequence[FieldViolation] = ()
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field_violations = tuple(field_violations)

    @classmethod
    def from_rpc_error(cls, error: Any) -> ProductSearchError:
        """From the `grpc.RpcError` (sync) or `grpc.aio.AioRpcError` a call raised."""
        return cls(error.code(), error.details() or "", field_violations(error.trailing_metadata() or ()))


def field_violations(trailing_metadata: Iterable[tuple[str, str | bytes]]) -> tuple[FieldViolation, ...]:
    """The BadRequest field violations in a call's trailing metadata; none when absent."""
    found: list[FieldViolation] = []
    for key, value in trailing_metadata:
        if key != STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        status = rpc_status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.type_url.rpartition("/")[2] == _BAD_REQUEST_TYPE:
                bad_request = rpc_status_pb2.BadRequest.FromString(detail.value)
                found += [FieldViolation(v.field, v.description) for v in bad_request.field_violations]
    return tuple(found)
