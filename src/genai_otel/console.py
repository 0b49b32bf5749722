"""The embedded default backend: keep spans in memory and print them as a readable tree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from genai_otel import semconv

_TOKEN_FIELDS = (
    (semconv.GEN_AI_USAGE_INPUT_TOKENS, "in"),
    (semconv.GEN_AI_USAGE_OUTPUT_TOKENS, "out"),
    (semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, "cached"),
    (semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, "reasoning"),
)


def _describe(span: ReadableSpan) -> str:
    attrs: dict[str, Any] = dict(span.attributes or {})
    duration_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
    service = getattr(span, "service", None)
    bits = [f"[{service}] " * bool(service) + f"{span.name}  {duration_ms:.1f} ms"]
    model = attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL)
    if model:
        bits.append(f"model={model}")
    tokens = [f"{label}={attrs[key]}" for key, label in _TOKEN_FIELDS if attrs.get(key)]
    if tokens:
        bits.append("tokens " + " ".join(tokens))
    if attrs.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK):
        bits.append(f"ttfc={attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] * 1000:.1f} ms")
    if attrs.get(semconv.GENAI_OTEL_LOOP_GUARD_LIMIT):
        bits.append(f"LOOP GUARD {attrs[semconv.GENAI_OTEL_LOOP_GUARD_LIMIT]}")
    if attrs.get(semconv.ERROR_TYPE):
        bits.append(f"ERROR {attrs[semconv.ERROR_TYPE]}")
    return "  ".join(bits)


def render_tree(spans: Sequence[ReadableSpan], notes: Mapping[int, Sequence[str]] | None = None) -> str:
    """Render finished spans as one indented tree per trace, children in start order.

    Spans from :meth:`genai_otel.testing.otlp_receiver.OtlpReceiver.tree_spans` work too (they
    carry their service's name). ``notes`` (by span id) are lines shown under their span, above its
    children: evaluation results, for instance."""
    notes = notes or {}
    ids = {s.context.span_id for s in spans}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None and span.parent.span_id in ids else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(span: ReadableSpan, prefix: str, last: bool, root: bool) -> None:
        lines.append(("" if root else prefix + ("└─ " if last else "├─ ")) + _describe(span))
        kids = sorted(children.get(span.context.span_id, []), key=lambda s: s.start_time or 0)
        inner = "" if root else prefix + ("   " if last else "│  ")
        # A note sits on the span's own branch: the tree line continues past it only to its children.
        lines.extend(
            inner + ("│  " if kids else "   ") + note for note in notes.get(span.context.span_id, ())
        )
        for index, kid in enumerate(kids):
            walk(kid, inner, index == len(kids) - 1, False)

    for root in sorted(children.get(None, []), key=lambda s: s.start_time or 0):
        lines.append(f"trace {root.context.trace_id:032x}")
        walk(root, "", True, True)
    return "\n".join(lines)
