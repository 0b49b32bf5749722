"""Message content that leaves the span: written to a store, the span (or event) keeps a reference.

The GenAI conventions let instrumentations offer an in-process hook for content upload and leave its API
and the reference attributes open (``gen-ai-spans.md``, "Uploading content to external storage"). We follow
what ``opentelemetry-util-genai`` ships, so backends and readers built for it work with our telemetry:

- ``OTEL_INSTRUMENTATION_GENAI_COMPLETION_HOOK=upload`` turns on the built-in store,
  ``OTEL_INSTRUMENTATION_GENAI_UPLOAD_BASE_PATH`` names it (a local directory or any fsspec URL such as
  ``s3://bucket/prefix``), ``OTEL_INSTRUMENTATION_GENAI_UPLOAD_FORMAT`` is ``json`` or ``jsonl``;
- each content attribute ``X`` (``gen_ai.input.messages``, ...) uploaded is replaced by ``X_ref`` holding
  the object's URL (``gen_ai.input.messages_ref``); the object holds the same JSON the attribute would have
  held (the schemas of ``gen-ai-input-messages.json`` and its siblings), never truncated.

Uploads never block nor fail the user's call: they wait in a bounded queue (items and bytes) for a few
worker threads; when the queue is full the content stays inline (size-limited as without upload) and the
skip is counted. Store errors are logged once per store and counted. :meth:`ContentStore.shutdown` (run at
process exit) flushes with a deadline.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import posixpath
import threading
import time
import uuid
import weakref
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from genai_otel import semconv
from genai_otel.config import UPLOAD_BASE_PATH, UPLOAD_HOOK, Settings
from genai_otel.safety import report_internal_error

_logger = logging.getLogger(__name__)

#: The content attributes uploaded: the ones ``opentelemetry-util-genai`` uploads (messages, system
#: instructions, tool definitions). Tool-call arguments/results and retrieval content stay inline.
UPLOADED_ATTRIBUTES: tuple[str, ...] = (
    semconv.GEN_AI_INPUT_MESSAGES,
    semconv.GEN_AI_OUTPUT_MESSAGES,
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
    semconv.GEN_AI_TOOL_DEFINITIONS,
)


def reference_attribute(attribute: str) -> str:
    """The attribute that holds the reference to ``attribute``'s uploaded content (``..._ref``, as
    ``opentelemetry-util-genai`` records it; the conventions define no name yet)."""
    return attribute + "_ref"


@runtime_checkable
class ContentHook(Protocol):
    """Takes content out of the span. Called on the application's thread: it must not block.

    ``upload`` gets ``{attribute: JSON text}`` (the value each content attribute would hold) and the ids of
    the span it belongs to (0 when there is none) and returns ``{attribute: reference}`` for the content it
    accepted; what it leaves out stays inline. ``shutdown`` flushes within ``timeout`` seconds and says
    whether everything accepted was written."""

    def upload(self, content: Mapping[str, str], *, trace_id: int, span_id: int) -> Mapping[str, str]: ...

    def shutdown(self, timeout: float) -> bool: ...


class ContentStore:
    """The shipped :class:`ContentHook`: an fsspec filesystem (local directory, ``s3://``, ``gs://``, ...).

    Objects are named ``{base}/{trace id}/{span id}-{attribute}.{json|jsonl}`` so the content of a span is
    found from its ids (and re-sending the same span writes the same objects). The queue holds at most
    ``max_queue_size`` objects and ``max_queue_bytes`` characters; beyond either, :meth:`upload` refuses
    (the content stays inline) and counts it in ``counts["skipped"]``. ``counts`` also has ``uploaded``,
    ``failed`` and ``bytes``; :meth:`flush` and :meth:`shutdown` wait for the queue with a deadline."""

    def __init__(
        self,
        base_path: str,
        *,
        upload_format: str = "json",
        max_queue_size: int = 64,
        max_queue_bytes: int = 32 * 1024 * 1024,
        workers: int = 2,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        import fsspec  # the [upload] extra; imported only when upload is on

        self._fs, root = fsspec.url_to_fs(base_path, **dict(storage_options or {}))
        self._root = root.rstrip("/") or root
        self.base_url = self._fs.unstrip_protocol(self._root)
        protocols = self._fs.protocol
        self._local = "file" in ((protocols,) if isinstance(protocols, str) else protocols)
        self._format = upload_format
        self._max_items = max_queue_size
        self._max_bytes = max_queue_bytes
        self._workers = max(1, workers)
        self._threads: list[threading.Thread] = []
        self._queue: deque[tuple[str, str]] = deque()
        self._queued_bytes = 0
        self._writing = 0
        self._closed = False
        self._cond = threading.Condition()
        self._error_logged = False
        self._full_logged = False
        self.counts: Counter[str] = Counter()
        _live_stores.add(self)

    # -- the hook -------------------------------------------------------------------------------------

    def upload(self, content: Mapping[str, str], *, trace_id: int, span_id: int) -> dict[str, str]:
        prefix = f"{trace_id:032x}/{span_id:016x}" if trace_id else f"untraced/{uuid.uuid4().hex}"
        refs = {}
        for attribute, text in content.items():
            name = f"{prefix}-{attribute}.{self._format}"
            if self._submit(f"{self._root}/{name}", text):
                refs[attribute] = f"{self.base_url}/{name}"
        return refs

    def _submit(self, path: str, text: str) -> bool:
        size = len(text)
        with self._cond:
            if self._closed:
                return False
            if len(self._queue) >= self._max_items or self._queued_bytes + size > self._max_bytes:
                self.counts["skipped"] += 1
                if not self._full_logged:
                    self._full_logged = True
                    _logger.warning(
                        "genai-otel content upload queue to %s is full: content stays inline "
                        "(further skips are counted only)",
                        self.base_url,
                    )
                return False
            self._queue.append((path, text))
            self._queued_bytes += size
            if not self._threads:  # started with the first upload: no thread for a store never used
                for _ in range(self._workers):
                    thread = threading.Thread(target=self._work, name="genai-otel-upload", daemon=True)
                    self._threads.append(thread)
                    thread.start()
            self._cond.notify()
        return True

    # -- the workers ----------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                path, text = self._queue.popleft()
                self._writing += 1
            try:
                data = self._encode(text)
                self._write(path, data)
            except Exception as error:  # a store that is down, a full disk, bad credentials: never raised
                with self._cond:
                    self.counts["failed"] += 1
                    first = not self._error_logged
                    self._error_logged = True
                if first:
                    _logger.warning(
                        "genai-otel content upload to %s failed (%s: %s); further failures are counted only",
                        self.base_url,
                        type(error).__name__,
                        error,
                    )
            else:
                with self._cond:
                    self.counts["uploaded"] += 1
                    self.counts["bytes"] += len(data)
            finally:
                with self._cond:
                    self._writing -= 1
                    self._queued_bytes -= len(text)
                    self._cond.notify_all()

    def _encode(self, text: str) -> bytes:
        if self._format == "jsonl":
            value = json.loads(text)
            items = value if isinstance(value, list) else [value]
            lines = []
            for index, item in enumerate(items):
                if isinstance(item, dict):  # streaming readers of jsonl find each message's position
                    item = {**item, "index": index}
                lines.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
            return ("\n".join(lines) + "\n").encode()
        return (text + "\n").encode()

    def _write(self, path: str, data: bytes) -> None:
        if self._local:
            self._fs.makedirs(posixpath.dirname(path), exist_ok=True)
        content_type = "application/jsonl" if self._format == "jsonl" else "application/json"
        try:
            with self._fs.open(path, "wb", content_type=content_type) as file:
                file.write(data)
        except TypeError:  # a filesystem that takes no content type
            with self._fs.open(path, "wb") as file:
                file.write(data)

    # -- flush and shutdown ---------------------------------------------------------------------------

    def _after_fork(self) -> None:
        # A pre-fork server (gunicorn --preload) forks after instrument(): the child has none of the
        # parent's worker threads and maybe a lock held mid-operation; it starts afresh (the parent's
        # queued items are the parent's to write).
        self._cond = threading.Condition()
        self._threads = []
        self._queue.clear()
        self._queued_bytes = 0
        self._writing = 0

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued is written (or failed); ``False`` when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._writing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stop taking uploads and flush within ``timeout``; what is still queued then is dropped and counted
        in ``counts["dropped"]``. The workers are daemon threads: a store that hangs never holds up exit."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        flushed = self.flush(timeout)
        with self._cond:
            if self._queue:
                self.counts["dropped"] += len(self._queue)
                self._queue.clear()
                self._queued_bytes = 0
            self._cond.notify_all()
        atexit.unregister(self.shutdown)
        return flushed


_live_stores: weakref.WeakSet[ContentStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_live_stores):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class ContentUpload:
    """The policy around a :class:`ContentHook`: which attributes go to it, from which size, and whether the
    inline content stays besides the reference."""

    def __init__(
        self,
        hook: ContentHook,
        *,
        keep_inline: bool = False,
        min_size: int = 0,
        attributes: Iterable[str] = UPLOADED_ATTRIBUTES,
    ) -> None:
        self.hook = hook
        self.keep_inline = keep_inline
        self.min_size = min_size
        self.attributes = frozenset(attributes)

    def send(self, content: Mapping[str, str], *, trace_id: int = 0, span_id: int = 0) -> dict[str, str]:
        """``{reference attribute: reference}`` for what the hook took; ``{}`` when it raised (logged once:
        the content then stays inline)."""
        try:
            refs = self.hook.upload(content, trace_id=trace_id, span_id=span_id)
            return {reference_attribute(a): str(ref) for a, ref in refs.items() if a in content}
        except Exception:
            report_internal_error("content upload hook")
            return {}


def from_settings(settings: Settings) -> ContentUpload | None:
    """The upload the settings ask for; ``None`` -- nothing to do per call -- when there is no hook or
    content capture is off (content is never uploaded when it would not be captured)."""
    capture = settings.content_capture
    if not (capture.on_span or capture.on_event):
        return None
    hook = settings.content_hook
    if hook is None and settings.completion_hook == UPLOAD_HOOK:
        key = (
            settings.upload_base_path,
            settings.upload_format,
            settings.upload_max_queue_size,
            settings.upload_max_queue_bytes,
        )
        with _stores_lock:
            hook = _stores.get(key) or _new_store(settings, key)
    if hook is None:
        return None
    return ContentUpload(hook, keep_inline=settings.upload_keep_inline, min_size=settings.upload_min_size)


#: One store per destination and queue caps: the handlers of every instrumentor share it (and its queue).
_stores: dict[tuple[Any, ...], ContentStore] = {}
_stores_lock = threading.Lock()


def _new_store(settings: Settings, key: tuple[Any, ...]) -> ContentStore | None:
    try:
        store = ContentStore(
            settings.upload_base_path,
            upload_format=settings.upload_format,
            max_queue_size=settings.upload_max_queue_size,
            max_queue_bytes=settings.upload_max_queue_bytes,
        )
    except Exception as error:  # fsspec missing, an unknown protocol, bad options: content stays inline
        _logger.warning(
            "genai-otel content upload to %r is off (%s: %s); install genai-otel[upload] and check %s",
            settings.upload_base_path,
            type(error).__name__,
            error,
            UPLOAD_BASE_PATH,
        )
        return None
    atexit.register(store.shutdown, settings.upload_shutdown_timeout)
    _stores[key] = store
    return store
