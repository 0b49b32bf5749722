"""gRPC answers as the OTLP specification reads them ("Failures": retryable or not), both ways: how the
service classifies the next hop's errors, and how it tells its own clients to retry (RESOURCE_EXHAUSTED
with a ``google.rpc.RetryInfo`` detail, which OTLP exporters need before they retry that code)."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import grpc

#: Retryable whatever the details say (OTLP specification, "OTLP/gRPC Response", failures).
RETRYABLE = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_DETAILS_KEY = "grpc-status-details-bin"
# How gRPC servers word "this message is over my receive limit" (grpc-go, grpc core, grpc-java).
_TOO_LARGE = ("larger than max", "exceeds maximum size", "message too large")

RETRY = "retry"
SPLIT = "split"
PERMANENT = "permanent"


def retry_delay(error: Any) -> float | None:
    """The delay a ``google.rpc.RetryInfo`` detail of the error asks for, or None when there is none."""
    from google.rpc import error_details_pb2, status_pb2

    try:
        metadata = error.trailing_metadata() or ()
    except Exception:  # not a call error (a channel-level failure): no details
        return None
    for key, value in metadata:
        if key != _DETAILS_KEY:
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except Exception:
            return None
        for detail in status.details:
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def classify(error: grpc.RpcError) -> tuple[str, float | None]:
    """``(RETRY, delay or None)`` for an error worth retrying; ``(SPLIT, None)`` for "message larger than
    max" (permanent for that request, but its halves may pass); ``(PERMANENT, None)`` otherwise."""
    code = error.code() if hasattr(error, "code") else None
    if code in RETRYABLE:
        return RETRY, retry_delay(error)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        delay = retry_delay(error)
        if delay is not None:
            return RETRY, delay
        details = (error.details() or "").lower() if hasattr(error, "details") else ""
        if any(words in details for words in _TOO_LARGE):
            return SPLIT, None
    return PERMANENT, None


class _Status(namedtuple("_Status", ("code", "details", "trailing_metadata")), grpc.Status):
    """A status with details for ``context.abort_with_status``."""


def retry_later(message: str, seconds: int = 1) -> grpc.Status:
    """RESOURCE_EXHAUSTED with a RetryInfo detail: the answer OTLP exporters retry (without the detail
    the specification makes RESOURCE_EXHAUSTED permanent, and the Collector's exporter drops the data)."""
    from google.protobuf.duration_pb2 import Duration
    from google.rpc import code_pb2, error_details_pb2, status_pb2

    status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=message)
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=Duration(seconds=seconds)))
    return _Status(grpc.StatusCode.RESOURCE_EXHAUSTED, message, ((_DETAILS_KEY, status.SerializeToString()),))
