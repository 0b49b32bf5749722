"""The telemetry core: invocation records in, spans/metrics/events out."""

from genai_otel.telemetry.handler import TelemetryHandler
from genai_otel.telemetry.invocation import (
    AgentInvocation,
    EmbeddingsInvocation,
    InferenceInvocation,
    Invocation,
    RetrievalInvocation,
    ToolInvocation,
    VectorDbInvocation,
    error_type_of,
    mark_failed,
)

__all__ = [
    "AgentInvocation",
    "EmbeddingsInvocation",
    "InferenceInvocation",
    "Invocation",
    "RetrievalInvocation",
    "TelemetryHandler",
    "ToolInvocation",
    "VectorDbInvocation",
    "error_type_of",
    "mark_failed",
]
