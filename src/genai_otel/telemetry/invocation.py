"""Invocation records: what an instrumentor knows about one GenAI operation.

Instrumentors fill these plain records and hand them to
:class:`~genai_otel.telemetry.handler.TelemetryHandler`; only the handler knows how they become
spans, metrics and events. Message content fields are
filled only when ``handler.capture_content`` is true, in the JSON shapes of the GenAI conventions
(``{"role": ..., "parts": [{"type": "text", "content": ...}]}``).
"""

# request_attr/response_attr/content_attr return dataclasses.field(...), which RUF009 cannot see through.
# ruff: noqa: RUF009

from __future__ import annotations

import dataclasses
import functools
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from genai_otel import semconv

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from typing_extensions import Self

INFERENCE_OPERATIONS = frozenset(semconv.SPAN_SHAPES["inference"]["operations"])


def error_type_of(exc: BaseException) -> str:
    """Low-cardinality ``error.type``: the exception's class name (e.g. ``RateLimitError``)."""
    return type(exc).__name__


# A provider's error code or type: a short identifier, never free text that could quote the input.
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}|[0-9]{1,6}")


def _http_status(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        status = getattr(holder, "status_code", None)
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    response = getattr(exc, "response", None)  # botocore ClientError: a dict
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    return None


def _error_codes(exc: BaseException) -> list[str]:
    codes = []
    response = getattr(exc, "response", None)
    candidates = [getattr(exc, "code", None), getattr(exc, "type", None), getattr(exc, "status", None)]
    if isinstance(response, dict):
        candidates.append(response.get("Error", {}).get("Code"))
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and _ERROR_CODE.fullmatch(value) and value not in codes:
            codes.append(value)
    return codes


def error_summary(exc: BaseException) -> str:
    """A description of ``exc`` that cannot quote message content: the exception type plus the HTTP
    status and the provider's error code/type when known (``BadRequestError: HTTP 400,
    invalid_request_error``), never the exception's text -- providers echo the prompt (and any key
    pasted in it) there."""
    details = []
    status = _http_status(exc)
    if status is not None:
        details.append(f"HTTP {status}")
    details.extend(code for code in _error_codes(exc) if code != str(status))
    name = error_type_of(exc)
    return f"{name}: {', '.join(details)}" if details else name


def safe_stacktrace(exc: BaseException) -> str:
    """The traceback's frames (file, line, function, source line) and the :func:`error_summary`:
    where it failed, without the exception texts (of ``exc`` or chained ones) that may quote content."""
    frames = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    return "Traceback (most recent call last):\n" + "".join(frames) + error_summary(exc)


def record_error(span: Span, error: BaseException, *, with_content: bool) -> None:
    """Status ERROR and the ``exception`` event for ``error`` on ``span``.

    Without content capture (the default) the status description, ``exception.message`` and
    ``exception.stacktrace`` hold only :func:`error_summary` and the frames (:func:`safe_stacktrace`):
    a provider error quoting the prompt stays out of telemetry. With content capture on the span
    (``with_content``) the exception's own text and full traceback are recorded, as the SDK does.
    The exception itself is never changed."""
    if with_content:
        span.set_status(Status(StatusCode.ERROR, str(error)[:1024] or error_type_of(error)))
        span.record_exception(error)
        return
    summary = error_summary(error)
    span.set_status(Status(StatusCode.ERROR, summary))
    module = type(error).__module__
    qualname = type(error).__qualname__
    span.add_event(
        "exception",
        {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins" else qualname,
            "exception.message": summary,
            "exception.stacktrace": safe_stacktrace(error),
        },
    )


def mark_failed(span: Span, error: BaseException, *, with_content: bool = False) -> None:
    """A plain (non-record) span that ended with ``error``: ``error.type`` and status ERROR, the
    description without the exception's text unless ``with_content`` (see :func:`error_summary`)."""
    span.set_attribute(semconv.ERROR_TYPE, error_type_of(error))
    description = str(error)[:1024] if with_content else ""
    span.set_status(Status(StatusCode.ERROR, description or error_summary(error)))


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def check_fields(cls: type, names: Iterable[str]) -> None:
    """Raise unless every one of ``names`` is a field of record type ``cls``: the check
    :meth:`Invocation.from_checked` leaves to its callers, made once where their field names are fixed."""
    unknown = sorted(set(names) - _field_names(cls))
    if unknown:
        raise TypeError(f"{cls.__name__} has no fields {unknown}")


#: Field metadata keys: the attribute a record field is written to, and when. ``request`` fields go on
#: the span at its start, ``response`` fields at its end, ``content`` fields only under content capture.
#: :mod:`genai_otel.telemetry.attributes` derives the handler's tables from these declarations.
ATTRIBUTE = "attribute"
PHASE = "phase"


def _mapped(attribute: str, phase: str, default: Any) -> Any:
    return field(default=default, metadata={ATTRIBUTE: attribute, PHASE: phase})


def request_attr(attribute: str, default: Any = None) -> Any:
    """A record field written to ``attribute`` when the span starts."""
    return _mapped(attribute, "request", default)


def response_attr(attribute: str, default: Any = None) -> Any:
    """A record field written to ``attribute`` when the span ends."""
    return _mapped(attribute, "response", default)


def content_attr(attribute: str, default: Any = None) -> Any:
    """A message-content field written to ``attribute`` (span and/or event) under content capture only."""
    return _mapped(attribute, "content", default)


@dataclass(eq=False, init=False)
class Invocation:
    """Fields shared by every GenAI operation."""

    #: The attribute ``operation`` is written to (database spans use ``db.operation.name``).
    OPERATION_ATTRIBUTE: ClassVar[str] = semconv.GEN_AI_OPERATION_NAME

    operation: str
    provider: str | None = request_attr(semconv.GEN_AI_PROVIDER_NAME)
    request_model: str | None = request_attr(semconv.GEN_AI_REQUEST_MODEL)
    server_address: str | None = request_attr(semconv.SERVER_ADDRESS)
    server_port: int | None = request_attr(semconv.SERVER_PORT)
    conversation_id: str | None = request_attr(semconv.GEN_AI_CONVERSATION_ID)
    kind: SpanKind = SpanKind.CLIENT
    #: Extra request-time attributes (provider-specific, e.g. ``openai.request.service_tier``).
    attributes: dict[str, Any] = field(default_factory=dict)
    #: Extra attributes known only from the response.
    response_attributes: dict[str, Any] = field(default_factory=dict)
    response_model: str | None = response_attr(semconv.GEN_AI_RESPONSE_MODEL)
    input_tokens: int | None = response_attr(semconv.GEN_AI_USAGE_INPUT_TOKENS)
    error_type: str | None = response_attr(semconv.ERROR_TYPE)
    #: A framework-level record (litellm, LangChain, ...) sets this: a client-level call made
    #: while it is current merges its exact details into it instead of opening a second span.
    owns_client_calls: bool = False
    #: Request fields the framework only guessed (``"provider"``, ``"operation"``): a client call
    #: merged into this record overrides them with what it knows exactly.
    guessed: frozenset[str] = frozenset()
    #: The loop guard tripped (action ``raise``) when this framework record opened, and the framework
    #: gave us no way to raise it: the client call it owns raises it instead (see ``agent_runs``).
    loop_error: BaseException | None = None
    # Filled by the handler.
    owner: Invocation | None = None
    claimed: bool = False
    span: Span | None = None
    start_ns: int = 0
    context_token: object | None = None
    #: The context the record's work runs in (its span current), made when the span was made current:
    #: reused for a stream's steps and for the metric points (whose exemplars must name this span).
    run_context: Context | None = None
    ended: bool = False

    def __init__(self, **values: Any) -> None:
        """Keyword arguments only; a field not given keeps its (class-level) default. Records are made on
        every instrumented call: this costs a quarter of the generated ``__init__`` of ~50 fields."""
        if not values.keys() <= _field_names(type(self)):
            unknown = sorted(values.keys() - _field_names(type(self)))
            raise TypeError(f"{type(self).__name__} got unexpected fields {unknown}")
        if "operation" not in values and not hasattr(type(self), "operation"):
            raise TypeError(f"{type(self).__name__} needs an operation")
        self.attributes = {}
        self.response_attributes = {}
        self.__dict__.update(values)

    @classmethod
    def from_checked(cls, fields: dict[str, Any]) -> Self:
        """A record holding ``fields``, whose names the caller checked once (with :func:`check_fields`,
        at import) rather than on every call: the constructor without its per-call check and copy, for the
        hot paths that build a record per SDK call. The record takes ``fields`` over as its own
        ``__dict__``: the caller must not use the dict again. It must name ``operation``."""
        inv = object.__new__(cls)
        fields["attributes"] = {}
        fields["response_attributes"] = {}
        inv.__dict__ = fields
        return inv

    @property
    def is_inference(self) -> bool:
        return self.operation in INFERENCE_OPERATIONS

    @property
    def span_target(self) -> str | None:
        """The value after the operation name in the span name."""
        return self.request_model


@dataclass(eq=False, init=False)
class InferenceInvocation(Invocation):
    """chat / text_completion / generate_content."""

    temperature: float | None = request_attr(semconv.GEN_AI_REQUEST_TEMPERATURE)
    top_p: float | None = request_attr(semconv.GEN_AI_REQUEST_TOP_P)
    top_k: int | None = request_attr(semconv.GEN_AI_REQUEST_TOP_K)
    max_tokens: int | None = request_attr(semconv.GEN_AI_REQUEST_MAX_TOKENS)
    stop_sequences: list[str] | None = request_attr(semconv.GEN_AI_REQUEST_STOP_SEQUENCES)
    frequency_penalty: float | None = request_attr(semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY)
    presence_penalty: float | None = request_attr(semconv.GEN_AI_REQUEST_PRESENCE_PENALTY)
    seed: int | None = request_attr(semconv.GEN_AI_REQUEST_SEED)
    choice_count: int | None = None
    stream: bool | None = request_attr(semconv.GEN_AI_REQUEST_STREAM)
    output_type: str | None = request_attr(semconv.GEN_AI_OUTPUT_TYPE)
    response_id: str | None = response_attr(semconv.GEN_AI_RESPONSE_ID)
    finish_reasons: list[str] | None = response_attr(semconv.GEN_AI_RESPONSE_FINISH_REASONS)
    output_tokens: int | None = response_attr(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
    cache_read_input_tokens: int | None = response_attr(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
    cache_write_input_tokens: int | None = response_attr(semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS)
    reasoning_output_tokens: int | None = response_attr(semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)
    # Content (opt-in).
    input_messages: list[dict[str, Any]] | None = content_attr(semconv.GEN_AI_INPUT_MESSAGES)
    output_messages: list[dict[str, Any]] | None = content_attr(semconv.GEN_AI_OUTPUT_MESSAGES)
    system_instructions: list[dict[str, Any]] | None = content_attr(semconv.GEN_AI_SYSTEM_INSTRUCTIONS)
    tool_definitions: list[dict[str, Any]] | None = content_attr(semconv.GEN_AI_TOOL_DEFINITIONS)
    # Streaming timing (perf_counter_ns).
    first_chunk_ns: int = 0
    last_chunk_ns: int = 0
    chunk_count: int = 0


@dataclass(eq=False, init=False)
class EmbeddingsInvocation(Invocation):
    operation: str = semconv.OPERATION_EMBEDDINGS
    dimension_count: int | None = response_attr(semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT)
    encoding_formats: list[str] | None = request_attr(semconv.GEN_AI_REQUEST_ENCODING_FORMATS)


@dataclass(eq=False, init=False)
class RetrievalInvocation(Invocation):
    operation: str = semconv.OPERATION_RETRIEVAL
    kind: SpanKind = SpanKind.INTERNAL
    data_source_id: str | None = request_attr(semconv.GEN_AI_DATA_SOURCE_ID)
    top_k: int | None = request_attr(semconv.GEN_AI_RETRIEVAL_TOP_K)
    query_text: str | None = content_attr(semconv.GEN_AI_RETRIEVAL_QUERY_TEXT)
    #: ``[{"id": ..., "score": ...}, ...]`` (content; opt-in).
    documents: list[dict[str, Any]] | None = content_attr(semconv.GEN_AI_RETRIEVAL_DOCUMENTS)

    @property
    def span_target(self) -> str | None:
        # "retrieval {data source}", but "rerank {model}" (a reranking model call).
        return self.data_source_id if self.operation == semconv.OPERATION_RETRIEVAL else self.request_model


@dataclass(eq=False, init=False)
class ToolInvocation(Invocation):
    operation: str = semconv.OPERATION_EXECUTE_TOOL
    kind: SpanKind = SpanKind.INTERNAL
    tool_name: str | None = request_attr(semconv.GEN_AI_TOOL_NAME)
    tool_call_id: str | None = request_attr(semconv.GEN_AI_TOOL_CALL_ID)
    tool_type: str | None = request_attr(semconv.GEN_AI_TOOL_TYPE)
    tool_description: str | None = request_attr(semconv.GEN_AI_TOOL_DESCRIPTION)
    #: The agent executing the tool: filled by the agent engine from the enclosing agent run if not given.
    agent_name: str | None = request_attr(semconv.GEN_AI_AGENT_NAME)
    arguments: Any = content_attr(semconv.GEN_AI_TOOL_CALL_ARGUMENTS)
    result: Any = content_attr(semconv.GEN_AI_TOOL_CALL_RESULT)

    @property
    def span_target(self) -> str | None:
        return self.tool_name


@dataclass(eq=False, init=False)
class AgentInvocation(InferenceInvocation):
    operation: str = semconv.OPERATION_INVOKE_AGENT
    kind: SpanKind = SpanKind.INTERNAL
    agent_id: str | None = request_attr(semconv.GEN_AI_AGENT_ID)
    agent_name: str | None = request_attr(semconv.GEN_AI_AGENT_NAME)
    agent_description: str | None = request_attr(semconv.GEN_AI_AGENT_DESCRIPTION)
    agent_version: str | None = request_attr(semconv.GEN_AI_AGENT_VERSION)
    #: ``invoke_workflow``: the workflow's name (the span is named after it, not after an agent).
    workflow_name: str | None = request_attr(semconv.GEN_AI_WORKFLOW_NAME)
    #: Runs inside another agent or workflow run of this process (``gen_ai.invocation.is_nested`` on the
    #: invocation duration metric); set by the agent engine, which knows the enclosing run.
    is_nested: bool = False
    #: ``invoke_agent``: the model and tool calls the agent itself made (not its sub-agents), set by the
    #: agent engine when the run ends (``gen_ai.invoke_agent.inference_calls`` / ``.tool_calls``).
    inference_calls: int | None = None
    tool_calls: int | None = None

    @property
    def is_inference(self) -> bool:
        return False

    @property
    def span_target(self) -> str | None:
        return self.workflow_name or self.agent_name


@dataclass(eq=False, init=False)
class VectorDbInvocation(Invocation):
    """A vector store client call (database conventions): ``operation`` is ``db.operation.name``."""

    OPERATION_ATTRIBUTE: ClassVar[str] = semconv.DB_OPERATION_NAME

    operation: str = "query"
    kind: SpanKind = SpanKind.CLIENT
    system: str = request_attr(semconv.DB_SYSTEM_NAME, default="")
    collection: str | None = request_attr(semconv.DB_COLLECTION_NAME)
    namespace: str | None = request_attr(semconv.DB_NAMESPACE)
    top_k: int | None = request_attr(semconv.GEN_AI_RETRIEVAL_TOP_K)
    batch_size: int | None = request_attr(semconv.DB_OPERATION_BATCH_SIZE)
    vector_dimension: int | None = request_attr(semconv.GENAI_OTEL_VECTOR_DIMENSION)
    filtered: bool | None = request_attr(semconv.GENAI_OTEL_VECTOR_FILTERED)
    returned_rows: int | None = response_attr(semconv.DB_RESPONSE_RETURNED_ROWS)
    #: Set by the instrumentor from ``handler.capture_content``: whether to collect the content below.
    capture_content: bool = False
    # Content (opt-in): the query text, and the returned ``[{"id": ..., "score": ...}]``.
    query_text: str | None = content_attr(semconv.GEN_AI_RETRIEVAL_QUERY_TEXT)
    documents: list[dict[str, Any]] | None = content_attr(semconv.GEN_AI_RETRIEVAL_DOCUMENTS)

    @property
    def is_inference(self) -> bool:
        return False

    @property
    def span_target(self) -> str | None:
        return self.collection
