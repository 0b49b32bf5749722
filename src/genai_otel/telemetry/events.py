"""The ``gen_ai.client.inference.operation.details`` event: one log record per inference call, when the
settings ask for events (its attributes from the record; content only under content capture on events)."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace

from genai_otel import semconv
from genai_otel.config import Settings
from genai_otel.telemetry.attributes import OPERATION_FIELD, Fields, read, tables
from genai_otel.telemetry.invocation import Invocation

EVENT_NAME = semconv.EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS
_EVENT_ATTRIBUTES = frozenset(semconv.EVENTS[EVENT_NAME]["attributes"])
_FIELDS: dict[type, Fields] = {}


def _fields(cls: type) -> Fields:
    """The record fields whose attributes the event takes (computed once per record class)."""
    cached = _FIELDS.get(cls)
    if cached is None:
        by_class = tables(cls)
        cached = _FIELDS[cls] = tuple(
            pair
            for pair in OPERATION_FIELD + by_class.request + by_class.response
            if pair[1] in _EVENT_ATTRIBUTES
        )
    return cached


class InferenceEvents:
    """Emits the inference event for finished records through ``logger`` (an OpenTelemetry Logger)."""

    def __init__(self, logger: Any, settings: Settings) -> None:
        self._logger = logger
        self._settings = settings

    def emit(self, inv: Invocation, content_attributes: dict[str, Any]) -> None:
        if not (self._settings.emits_event and inv.is_inference):
            return
        attributes = read(inv, _fields(type(inv)))
        if self._settings.content_capture.on_event:
            attributes.update(content_attributes)
        self._logger.emit(
            event_name=EVENT_NAME,
            attributes=attributes,
            context=trace.set_span_in_context(inv.span),
        )
