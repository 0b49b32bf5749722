"""What agents upstream -- in this process or another service -- put in baggage for the spans below
them: the conversation id and the loop-guard limit that tripped (see :mod:`genai_otel.propagation`)."""

from __future__ import annotations

from typing import Any

from genai_otel import semconv
from genai_otel.telemetry.invocation import Invocation

# Operations whose span shape takes gen_ai.conversation.id (filled from baggage when the app set one).
_CONVERSATION_OPERATIONS = frozenset(
    op
    for shape in semconv.SPAN_SHAPES.values()
    if semconv.GEN_AI_CONVERSATION_ID in shape["attributes"] and "key" not in shape
    for op in shape["operations"]
)


def inherit(inv: Invocation, entries: Any) -> None:
    """Fill ``inv`` from the baggage ``entries`` of the context its span starts in."""
    conversation = entries.get(semconv.GEN_AI_CONVERSATION_ID)
    if inv.conversation_id is None and conversation and inv.operation in _CONVERSATION_OPERATIONS:
        inv.conversation_id = str(conversation)
    limit = entries.get(semconv.GENAI_OTEL_LOOP_GUARD_LIMIT)
    if limit:
        inv.attributes[semconv.GENAI_OTEL_LOOP_GUARD_LIMIT] = str(limit)
