"""Serialise opt-in content to JSON strings within a size cap."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from genai_otel import semconv
from genai_otel.telemetry.upload import reference_attribute

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from genai_otel.telemetry.upload import ContentUpload

TRUNCATION_MARKER = "...[truncated]"
_MIN_LEAF = 32


def _default(value: Any) -> Any:
    for attr in ("model_dump", "to_dict", "dict"):
        method = getattr(value, attr, None)
        if callable(method):
            try:
                return method()
            except Exception:
                break
    return repr(value)


def dumps(value: Any) -> str:
    """``value`` as compact JSON (objects that are not JSON by their ``model_dump``/``to_dict`` or repr)."""
    return json.dumps(value, ensure_ascii=False, default=_default, separators=(",", ":"))


def _shorten_leaves(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + TRUNCATION_MARKER
    if isinstance(value, dict):
        return {k: _shorten_leaves(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shorten_leaves(v, limit) for v in value]
    return value


def serialize(value: Any, max_length: int) -> tuple[str, bool]:
    """Return ``(json_text, truncated)`` with ``len(json_text) <= max_length``.

    Long string leaves are shortened first so the result stays valid JSON; only when the
    structure itself is too large is the text cut (and then it ends with the marker).
    """
    text = value if isinstance(value, str) else dumps(value)
    if len(text) <= max_length:
        return text, False
    return shorten(value, text, max_length), True


def shorten(value: Any, text: str, max_length: int) -> str:
    """``text`` -- the JSON of ``value``, longer than ``max_length`` -- within ``max_length``: long string
    leaves of ``value`` are cut first (the result stays valid JSON), the text itself only when that is not
    enough (it then ends with the marker)."""
    if not isinstance(value, str):
        limit = max_length
        while limit >= _MIN_LEAF:
            limit //= 2
            candidate = dumps(_shorten_leaves(value, limit))
            if len(candidate) <= max_length:
                return candidate
    keep = max(0, max_length - len(TRUNCATION_MARKER))
    return text[:keep] + TRUNCATION_MARKER


def attributes(
    values: Iterable[tuple[str, Any]],
    max_length: int,
    upload: ContentUpload | None = None,
    span: Span | None = None,
) -> dict[str, Any]:
    """The content attributes of one record from ``(attribute, value)`` pairs (``None`` values skipped):
    JSON text within ``max_length`` each, the names of the cut ones in ``genai_otel.content.truncated``.

    With ``upload``, the content it takes (see :class:`~genai_otel.telemetry.upload.ContentUpload`) goes to
    the store whole and the record gets its reference (``gen_ai.input.messages_ref``, ...) instead -- or
    besides, with ``keep_inline``; content the store refuses (its queue is full) stays inline."""
    out: dict[str, Any] = {}
    truncated = []
    pending: dict[str, tuple[Any, str]] = {}
    for attribute, value in values:
        if value is None:
            continue
        if upload is not None and attribute in upload.attributes:
            text = value if isinstance(value, str) else dumps(value)
            if len(text) >= upload.min_size:
                pending[attribute] = (value, text)
                continue
        text, was_cut = serialize(value, max_length)
        out[attribute] = text
        if was_cut:
            truncated.append(attribute)
    if pending:
        context = span.get_span_context() if span is not None else None
        refs = upload.send(  # type: ignore[union-attr]
            {attribute: text for attribute, (_value, text) in pending.items()},
            trace_id=context.trace_id if context is not None else 0,
            span_id=context.span_id if context is not None else 0,
        )
        for attribute, (value, text) in pending.items():
            if upload.keep_inline or reference_attribute(attribute) not in refs:  # type: ignore[union-attr]
                out[attribute] = text if len(text) <= max_length else shorten(value, text, max_length)
                if len(text) > max_length:
                    truncated.append(attribute)
        out.update(refs)
    if truncated:
        out[semconv.GENAI_OTEL_CONTENT_TRUNCATED] = truncated
    return out
