"""Invocation records: what an instrumentor knows about one GenAI operation.

Instrumentors fill these plain records and hand them to
:class:`~genai_otel.telemetry.handler.TelemetryHandler`; only the handler knows how they become
spans, metrics and events. Message content fields are
filled only when ``handler.capture_content`` is true, in the JSON shapes of the GenAI conventions
(``{"role": ..., "parts": [{"type": "text", "content": ...}]}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from genai_otel import semconv

INFERENCE_OPERATIONS = frozenset(semconv.SPAN_SHAPES["inference"]["operations"])


def error_type_of(exc: BaseException) -> str:
    """Low-cardinality ``error.type``: the exception's class name (e.g. ``RateLimitError``)."""
    return type(exc).__name__


def mark_failed(span: Span, error: BaseException) -> None:
    """A plain (non-record) span that ended with ``error``: ``error.type`` and status ERROR."""
    span.set_attribute(semconv.ERROR_TYPE, error_type_of(error))
    span.set_status(Status(StatusCode.ERROR, str(error)[:1024] or error_type_of(error)))


@dataclass(eq=False)
class Invocation:
    """Fields shared by every GenAI operation."""

    #: The attribute ``operation`` is written to (database spans use ``db.operation.name``).
    OPERATION_ATTRIBUTE: ClassVar[str] = semconv.GEN_AI_OPERATION_NAME

    operation: str
    provider: str | None = None
    request_model: str | None = None
    server_address: str | None = None
    server_port: int | None = None
    conversation_id: str | None = None
    kind: SpanKind = SpanKind.CLIENT
    #: Extra request-time attributes (provider-specific, e.g. ``openai.request.service_tier``).
    attributes: dict[str, Any] = field(default_factory=dict)
    #: Extra attributes known only from the response.
    response_attributes: dict[str, Any] = field(default_factory=dict)
    response_model: str | None = None
    input_tokens: int | None = None
    error_type: str | None = None
    #: A framework-level record (litellm, LangChain, ...) sets this: a client-level call made
    #: while it is current merges its exact details into it instead of opening a second span.
    owns_client_calls: bool = False
    # Filled by the handler.
    owner: Invocation | None = None
    claimed: bool = False
    span: Span | None = None
    start_ns: int = 0
    context_token: object | None = None
    ended: bool = False

    @property
    def is_inference(self) -> bool:
        return self.operation in INFERENCE_OPERATIONS

    @property
    def span_target(self) -> str | None:
        """The value after the operation name in the span name."""
        return self.request_model


@dataclass(eq=False)
class InferenceInvocation(Invocation):
    """chat / text_completion / generate_content."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    stop_sequences: list[str] | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    choice_count: int | None = None
    stream: bool | None = None
    output_type: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    # Content (opt-in).
    input_messages: list[dict[str, Any]] | None = None
    output_messages: list[dict[str, Any]] | None = None
    system_instructions: list[dict[str, Any]] | None = None
    tool_definitions: list[dict[str, Any]] | None = None
    # Streaming timing (perf_counter_ns).
    first_chunk_ns: int = 0
    last_chunk_ns: int = 0
    chunk_count: int = 0


@dataclass(eq=False)
class EmbeddingsInvocation(Invocation):
    operation: str = semconv.OPERATION_EMBEDDINGS
    dimension_count: int | None = None
    encoding_formats: list[str] | None = None


@dataclass(eq=False)
class RetrievalInvocation(Invocation):
    operation: str = semconv.OPERATION_RETRIEVAL
    kind: SpanKind = SpanKind.INTERNAL
    data_source_id: str | None = None
    top_k: int | None = None
    query_text: str | None = None
    #: ``[{"id": ..., "score": ...}, ...]`` (content; opt-in).
    documents: list[dict[str, Any]] | None = None

    @property
    def span_target(self) -> str | None:
        # "retrieval {data source}", but "rerank {model}" (a reranking model call).
        return self.data_source_id if self.operation == semconv.OPERATION_RETRIEVAL else self.request_model


@dataclass(eq=False)
class ToolInvocation(Invocation):
    operation: str = semconv.OPERATION_EXECUTE_TOOL
    kind: SpanKind = SpanKind.INTERNAL
    tool_name: str | None = None
    tool_call_id: str | None = None
    tool_type: str | None = None
    tool_description: str | None = None
    arguments: Any = None
    result: Any = None

    @property
    def span_target(self) -> str | None:
        return self.tool_name


@dataclass(eq=False)
class AgentInvocation(InferenceInvocation):
    operation: str = semconv.OPERATION_INVOKE_AGENT
    kind: SpanKind = SpanKind.INTERNAL
    agent_id: str | None = None
    agent_name: str | None = None
    agent_description: str | None = None
    agent_version: str | None = None

    @property
    def is_inference(self) -> bool:
        return False

    @property
    def span_target(self) -> str | None:
        return self.agent_name


@dataclass(eq=False)
class VectorDbInvocation(Invocation):
    """A vector store client call (database conventions): ``operation`` is ``db.operation.name``."""

    OPERATION_ATTRIBUTE: ClassVar[str] = semconv.DB_OPERATION_NAME

    operation: str = "query"
    kind: SpanKind = SpanKind.CLIENT
    system: str = ""
    collection: str | None = None
    namespace: str | None = None
    top_k: int | None = None
    batch_size: int | None = None
    vector_dimension: int | None = None
    filtered: bool | None = None
    returned_rows: int | None = None
    #: Set by the instrumentor from ``handler.capture_content``: whether to collect the content below.
    capture_content: bool = False
    # Content (opt-in): the query text, and the returned ``[{"id": ..., "score": ...}]``.
    query_text: str | None = None
    documents: list[dict[str, Any]] | None = None

    @property
    def is_inference(self) -> bool:
        return False

    @property
    def span_target(self) -> str | None:
        return self.collection
