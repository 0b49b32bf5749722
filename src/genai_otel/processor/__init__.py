"""Enrichment rules for GenAI telemetry, written once and run in-process or in the processor service.

    from genai_otel.processor import EnrichingSpanProcessor, default_rules
    provider.add_span_processor(EnrichingSpanProcessor(BatchSpanProcessor(exporter), default_rules()))

Rules work on :class:`SpanRecord` (a mutable, transport-neutral view of a span): ``normalize`` (foreign
dialects -> the latest GenAI conventions, from conventions/normalization.yaml), ``cost`` (from the price
table), ``redact`` (PII and secrets in content) and ``limit`` (size caps).
"""

from genai_otel.processor.model import Rule, SpanRecord, apply_rules
from genai_otel.processor.rules import (
    CostRule,
    LimitRule,
    LoopFlagRule,
    NormalizeRule,
    RedactRule,
    default_rules,
)
from genai_otel.processor.span_processor import EnrichingSpanProcessor

__all__ = [
    "CostRule",
    "EnrichingSpanProcessor",
    "LimitRule",
    "LoopFlagRule",
    "NormalizeRule",
    "RedactRule",
    "Rule",
    "SpanRecord",
    "apply_rules",
    "default_rules",
]
