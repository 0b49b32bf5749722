"""The ``offload`` rule: large content from any app goes to a store, the span keeps a reference.

Apps that record prompts and completions inline (ours without upload, other instrumentations) send spans
that backends reject or that fill the trace store. In the processor, this rule writes each content attribute
above ``min_size`` characters -- on spans, span events and log records -- to the same fsspec store the
in-process upload uses (:class:`~genai_otel.telemetry.upload.ContentStore`) and replaces it with
``{attribute}_ref`` (``gen_ai.input.messages_ref``). Off unless the configuration file names it:

.. code-block:: yaml

    rules:
      - normalize
      - cost
      - loop_flags
      - redact                  # before offload: what is stored is redacted too
      - offload: {store: "s3://bucket/genai-content", min_size: 16384}
      - limit

Writes are queued and never hold up the pipeline; when the queue is full the content stays on the span
(the limit rule after it then caps it) and the skip is counted in the store's ``counts``.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from genai_otel.config import DEFAULT_UPLOAD_BASE_PATH
from genai_otel.processor.model import SpanRecord
from genai_otel.telemetry.content import dumps
from genai_otel.telemetry.upload import (
    UPLOADED_ATTRIBUTES,
    ContentStore,
    ContentUpload,
    reference_attribute,
)


def _id(value: Any) -> int:
    """A trace or span id as an int: bytes from OTLP, an int in-process, 0 when absent."""
    if isinstance(value, (bytes, bytearray)):
        return int.from_bytes(value, "big")
    return value if isinstance(value, int) else 0


@dataclass
class OffloadRule:
    """Content attributes of at least ``min_size`` characters (their JSON text) go to ``store`` (a directory
    or fsspec URL; ``storage_options`` are passed to fsspec) and are replaced by their reference --
    kept besides it with ``keep_inline``. ``attributes`` defaults to the messages, system instructions and
    tool definitions."""

    store: str = DEFAULT_UPLOAD_BASE_PATH
    min_size: int = 16 * 1024
    keep_inline: bool = False
    upload_format: str = "json"
    max_queue_size: int = 256
    max_queue_bytes: int = 64 * 1024 * 1024
    workers: int = 4
    attributes: list[str] = field(default_factory=lambda: list(UPLOADED_ATTRIBUTES))
    storage_options: dict[str, Any] = field(default_factory=dict)
    name: str = "offload"
    #: Works out the new attribute dicts first and assigns them at the end (see :class:`Rule`).
    atomic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        try:
            import fsspec  # noqa: F401
        except ImportError:
            raise ImportError("the offload rule needs fsspec: pip install 'genai-otel[upload]'") from None
        self.content_store = ContentStore(
            self.store,
            upload_format=self.upload_format,
            max_queue_size=self.max_queue_size,
            max_queue_bytes=self.max_queue_bytes,
            workers=self.workers,
            storage_options=self.storage_options,
        )
        # The service stops without knowing its rules: queued writes get their deadline at exit.
        atexit.register(self.content_store.shutdown, 5.0)
        self._upload = ContentUpload(
            self.content_store,
            keep_inline=self.keep_inline,
            min_size=self.min_size,
            attributes=self.attributes,
        )

    def apply(self, span: SpanRecord) -> None:
        trace_id, span_id = _id(span.trace_id), _id(span.span_id)
        attributes = self._offloaded(span.attributes, trace_id, span_id)
        events = span.events and [
            (index, (name, new))
            for index, (name, event_attributes) in enumerate(span.events)
            if (new := self._offloaded(event_attributes, trace_id, span_id)) is not None
        ]
        if attributes is not None:
            span.attributes = attributes
        for index, event in events or ():
            span.events[index] = event

    def _offloaded(self, attrs: dict[str, Any], trace_id: int, span_id: int) -> dict[str, Any] | None:
        """``attrs`` with its large content replaced by references; ``None`` when nothing was offloaded."""
        upload = self._upload
        large = {
            key: text for key, text in self._texts(attrs, upload.attributes) if len(text) >= upload.min_size
        }
        if not large:
            return None  # the common case: no content, or small content
        refs = upload.send(large, trace_id=trace_id, span_id=span_id)
        if not refs:
            return None
        new = dict(attrs)
        if not upload.keep_inline:
            for key in large:
                if reference_attribute(key) in refs:
                    del new[key]
        new.update(refs)
        return new

    @staticmethod
    def _texts(attrs: dict[str, Any], keys: Iterable[str]) -> Iterable[tuple[str, str]]:
        for key in keys:
            value = attrs.get(key)
            if value is None:
                continue
            if isinstance(value, str):
                yield key, value
                continue
            try:
                text = dumps(value)
            except (ValueError, RecursionError):  # too deep to write as JSON: stays on the span, limited
                continue
            yield key, text

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Flush the store's queue within ``timeout`` seconds."""
        return self.content_store.shutdown(timeout)
