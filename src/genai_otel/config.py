"""Every environment variable genai-otel reads, in one place.

Settings are read once per :func:`genai_otel.instrument` call (``Settings.from_env()``); pass a
``Settings`` to override them in code.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genai_otel import semconv

_logger = logging.getLogger(__name__)

# Standard OpenTelemetry GenAI variables.
CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
EMIT_EVENT = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
SEMCONV_STABILITY_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
# Content upload: the names opentelemetry-util-genai reads (the conventions leave the hook API open).
COMPLETION_HOOK = "OTEL_INSTRUMENTATION_GENAI_COMPLETION_HOOK"
UPLOAD_BASE_PATH = "OTEL_INSTRUMENTATION_GENAI_UPLOAD_BASE_PATH"
UPLOAD_FORMAT = "OTEL_INSTRUMENTATION_GENAI_UPLOAD_FORMAT"
UPLOAD_MAX_QUEUE_SIZE = "OTEL_INSTRUMENTATION_GENAI_UPLOAD_MAX_QUEUE_SIZE"
# genai-otel's own variables.
SEMCONV_PROFILES = "GENAI_OTEL_SEMCONV_PROFILES"
MAX_CONTENT_LENGTH = "GENAI_OTEL_MAX_CONTENT_LENGTH"
DISABLED_INSTRUMENTATIONS = "GENAI_OTEL_DISABLED_INSTRUMENTATIONS"
# Multi-agent propagation and the loop guard.
MAX_AGENT_HOPS = "GENAI_OTEL_MAX_AGENT_HOPS"
MAX_AGENT_STEPS = "GENAI_OTEL_MAX_AGENT_STEPS"
LOOP_GUARD_ACTION = "GENAI_OTEL_LOOP_GUARD_ACTION"
BAGGAGE_ALLOWED_KEYS = "GENAI_OTEL_BAGGAGE_ALLOWED_KEYS"
BAGGAGE_MAX_VALUE_LENGTH = "GENAI_OTEL_BAGGAGE_MAX_VALUE_LENGTH"
BAGGAGE_MAX_ENTRIES = "GENAI_OTEL_BAGGAGE_MAX_ENTRIES"
BAGGAGE_TRUSTED_HOSTS = "GENAI_OTEL_BAGGAGE_TRUSTED_HOSTS"
TRUSTED_PEERS = "GENAI_OTEL_TRUSTED_PEERS"
# The enrichment processor.
PRICES_FILE = "GENAI_OTEL_PRICES_FILE"
# Content upload, beyond the standard names above.
UPLOAD_MAX_QUEUE_BYTES = "GENAI_OTEL_UPLOAD_MAX_QUEUE_BYTES"
UPLOAD_KEEP_INLINE = "GENAI_OTEL_UPLOAD_KEEP_INLINE"
UPLOAD_MIN_SIZE = "GENAI_OTEL_UPLOAD_MIN_SIZE"
UPLOAD_SHUTDOWN_TIMEOUT = "GENAI_OTEL_UPLOAD_SHUTDOWN_TIMEOUT"

DEFAULT_MAX_CONTENT_LENGTH = 16 * 1024
DEFAULT_MAX_AGENT_HOPS = 32
DEFAULT_MAX_AGENT_STEPS = 200
DEFAULT_BAGGAGE_MAX_VALUE_LENGTH = 256
DEFAULT_BAGGAGE_MAX_ENTRIES = 16
# Hosts that may receive baggage besides the always-trusted loopback, private-network and
# single-label (in-cluster service) names. ``*.`` matches any subdomain.
DEFAULT_BAGGAGE_TRUSTED_HOSTS = ("*.internal", "*.local", "*.svc", "*.svc.cluster.local")
# Inbound peers whose loop-guard baggage (hop count) is believed: loopback and private-network
# addresses. An internet-facing service behind a proxy sees the proxy's private address: it should
# set GENAI_OTEL_TRUSTED_PEERS=none (or its agent peers' networks). ``unknown`` also trusts carriers
# that name no peer (gRPC metadata, queue messages).
DEFAULT_TRUSTED_PEERS = ("loopback", "private")
#: The built-in hook that writes content to a store (``OTEL_INSTRUMENTATION_GENAI_COMPLETION_HOOK=upload``).
UPLOAD_HOOK = "upload"
#: Where the upload hook writes without ``OTEL_INSTRUMENTATION_GENAI_UPLOAD_BASE_PATH``: a directory under
#: the working directory (any fsspec URL -- ``s3://bucket/prefix``, ``gs://...`` -- can be set instead).
DEFAULT_UPLOAD_BASE_PATH = "genai-otel-content"
UPLOAD_FORMATS = ("json", "jsonl")
DEFAULT_UPLOAD_MAX_QUEUE_SIZE = 64
DEFAULT_UPLOAD_MAX_QUEUE_BYTES = 32 * 1024 * 1024
DEFAULT_UPLOAD_SHUTDOWN_TIMEOUT = 5.0


class LoopGuardAction(enum.Enum):
    """What the loop guard does when a limit is hit (``GENAI_OTEL_LOOP_GUARD_ACTION``)."""

    #: Span event + attributes only; the run goes on.
    RECORD = "record"
    #: Also raise :class:`genai_otel.AgentLoopError` into the agent code to stop the run.
    RAISE = "raise"


class ContentCapture(enum.Enum):
    """Where message content goes (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``)."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)


def parse_content_capture(raw: str | None) -> ContentCapture:
    """Parse the capture mode, case-insensitively.

    As the GenAI conventions require, any other value -- including the legacy ``true`` -- means
    NO_CONTENT, with a warning: content is never captured by accident.
    """
    if not raw:
        return ContentCapture.NO_CONTENT
    try:
        return ContentCapture(raw.strip().upper())
    except ValueError:
        if raw.strip().lower() != "false":
            _logger.warning(
                "%s=%r is not one of NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT; "
                "message content will NOT be captured",
                CAPTURE_MESSAGE_CONTENT,
                raw,
            )
        return ContentCapture.NO_CONTENT


def parse_profiles(raw: str | None) -> tuple[str, ...]:
    """Parse the comma-separated metric/attribute profiles (``latest``, ``legacy``)."""
    if not raw:
        return (semconv.DEFAULT_METRIC_PROFILE,)
    chosen = []
    for name in (part.strip().lower() for part in raw.split(",")):
        if name in semconv.METRIC_PROFILES and name not in chosen:
            chosen.append(name)
        elif name:
            _logger.warning("%s: unknown profile %r ignored", SEMCONV_PROFILES, name)
    return tuple(chosen) or (semconv.DEFAULT_METRIC_PROFILE,)


def _parse_bool(raw: str | None) -> bool:
    return (raw or "").strip().lower() in ("1", "true", "yes", "on")


def _parse_positive_int(raw: str | None, default: int, name: str, allow_zero: bool = False) -> int:
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0 or (value == 0 and not allow_zero):
        _logger.warning("%s=%r is not a positive integer; using %d", name, raw, default)
        return default
    return value


def _parse_list(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())


def parse_completion_hook(raw: str | None) -> str | None:
    """``upload`` (the built-in store) or ``None`` (no hook); anything else is ignored with a warning."""
    name = (raw or "").strip().lower()
    if name in ("", "none", "false", "off"):
        return None
    if name != UPLOAD_HOOK:
        _logger.warning("%s=%r is not %r; no content is uploaded", COMPLETION_HOOK, raw, UPLOAD_HOOK)
        return None
    return name


def parse_upload_format(raw: str | None) -> str:
    name = (raw or "json").strip().lower()
    if name not in UPLOAD_FORMATS:
        _logger.warning("%s=%r is not json or jsonl; using json", UPLOAD_FORMAT, raw)
        return "json"
    return name


def _parse_seconds(raw: str | None, default: float, name: str) -> float:
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        _logger.warning("%s=%r is not a number of seconds; using %s", name, raw, default)
        return default
    return value


def parse_loop_guard_action(raw: str | None) -> LoopGuardAction:
    if not raw:
        return LoopGuardAction.RECORD
    try:
        return LoopGuardAction(raw.strip().lower())
    except ValueError:
        _logger.warning("%s=%r is not record or raise; using record", LOOP_GUARD_ACTION, raw)
        return LoopGuardAction.RECORD


@dataclass(frozen=True)
class Settings:
    """genai-otel settings. ``Settings.from_env()`` reads them from the environment."""

    content_capture: ContentCapture = ContentCapture.NO_CONTENT
    emit_event: bool = False
    profiles: tuple[str, ...] = (semconv.DEFAULT_METRIC_PROFILE,)
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    disabled_instrumentations: frozenset[str] = field(default_factory=frozenset)
    #: Agent invocations allowed along one trace (across services); 0 = no limit.
    max_agent_hops: int = DEFAULT_MAX_AGENT_HOPS
    #: Model and tool calls allowed within one agent invocation; 0 = no limit.
    max_agent_steps: int = DEFAULT_MAX_AGENT_STEPS
    loop_guard_action: LoopGuardAction = LoopGuardAction.RECORD
    #: Inbound baggage keys accepted besides genai-otel's own agent keys.
    baggage_allowed_keys: tuple[str, ...] = ()
    baggage_max_value_length: int = DEFAULT_BAGGAGE_MAX_VALUE_LENGTH
    baggage_max_entries: int = DEFAULT_BAGGAGE_MAX_ENTRIES
    #: Extra host patterns that may receive baggage (``*.example.com``, ``agents.example.com``).
    baggage_trusted_hosts: tuple[str, ...] = DEFAULT_BAGGAGE_TRUSTED_HOSTS
    #: Inbound peers (``loopback``, ``private``, ``unknown``, ``none``, addresses, networks such as
    #: ``10.8.0.0/16``, host patterns) whose agent hop count and loop-guard marker are believed.
    trusted_peers: tuple[str, ...] = DEFAULT_TRUSTED_PEERS
    #: ``"upload"``: message content (input/output messages, system instructions, tool definitions) is
    #: written to ``upload_base_path`` and the span/event carries references. Content capture must be on:
    #: with NO_CONTENT nothing is uploaded.
    completion_hook: str | None = None
    #: A local directory or any fsspec URL (``s3://bucket/prefix``).
    upload_base_path: str = DEFAULT_UPLOAD_BASE_PATH
    #: ``json`` (one document per object) or ``jsonl`` (one message a line, with its ``index``).
    upload_format: str = "json"
    #: Uploads waiting at most; when the queue is full (items or bytes) the content stays inline.
    upload_max_queue_size: int = DEFAULT_UPLOAD_MAX_QUEUE_SIZE
    upload_max_queue_bytes: int = DEFAULT_UPLOAD_MAX_QUEUE_BYTES
    #: Keep the (size-limited) inline content besides the reference.
    upload_keep_inline: bool = False
    #: Content shorter than this many characters stays inline (0: everything is uploaded).
    upload_min_size: int = 0
    #: How long process exit waits for queued uploads.
    upload_shutdown_timeout: float = DEFAULT_UPLOAD_SHUTDOWN_TIMEOUT
    #: A hook object used instead of the built-in store (a
    #: :class:`genai_otel.telemetry.upload.ContentHook`); set in code only.
    content_hook: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        profiles = parse_profiles(env.get(SEMCONV_PROFILES))
        # OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental asks for the newest GenAI
        # conventions: that is already our default, so it only matters when the profile list
        # would otherwise lack "latest".
        if "gen_ai_latest_experimental" in env.get(SEMCONV_STABILITY_OPT_IN, "") and "latest" not in profiles:
            profiles = ("latest", *profiles)
        disabled = {p.strip() for p in env.get(DISABLED_INSTRUMENTATIONS, "").split(",") if p.strip()}
        return cls(
            content_capture=parse_content_capture(env.get(CAPTURE_MESSAGE_CONTENT)),
            emit_event=_parse_bool(env.get(EMIT_EVENT)),
            profiles=profiles,
            max_content_length=_parse_positive_int(
                env.get(MAX_CONTENT_LENGTH), DEFAULT_MAX_CONTENT_LENGTH, MAX_CONTENT_LENGTH
            ),
            disabled_instrumentations=frozenset(disabled),
            max_agent_hops=_parse_positive_int(
                env.get(MAX_AGENT_HOPS), DEFAULT_MAX_AGENT_HOPS, MAX_AGENT_HOPS, allow_zero=True
            ),
            max_agent_steps=_parse_positive_int(
                env.get(MAX_AGENT_STEPS), DEFAULT_MAX_AGENT_STEPS, MAX_AGENT_STEPS, allow_zero=True
            ),
            loop_guard_action=parse_loop_guard_action(env.get(LOOP_GUARD_ACTION)),
            baggage_allowed_keys=_parse_list(env.get(BAGGAGE_ALLOWED_KEYS)),
            baggage_max_value_length=_parse_positive_int(
                env.get(BAGGAGE_MAX_VALUE_LENGTH), DEFAULT_BAGGAGE_MAX_VALUE_LENGTH, BAGGAGE_MAX_VALUE_LENGTH
            ),
            baggage_max_entries=_parse_positive_int(
                env.get(BAGGAGE_MAX_ENTRIES), DEFAULT_BAGGAGE_MAX_ENTRIES, BAGGAGE_MAX_ENTRIES
            ),
            baggage_trusted_hosts=DEFAULT_BAGGAGE_TRUSTED_HOSTS + _parse_list(env.get(BAGGAGE_TRUSTED_HOSTS)),
            trusted_peers=_parse_list(env.get(TRUSTED_PEERS)) or DEFAULT_TRUSTED_PEERS,
            completion_hook=parse_completion_hook(env.get(COMPLETION_HOOK)),
            upload_base_path=(env.get(UPLOAD_BASE_PATH) or "").strip() or DEFAULT_UPLOAD_BASE_PATH,
            upload_format=parse_upload_format(env.get(UPLOAD_FORMAT)),
            upload_max_queue_size=_parse_positive_int(
                env.get(UPLOAD_MAX_QUEUE_SIZE), DEFAULT_UPLOAD_MAX_QUEUE_SIZE, UPLOAD_MAX_QUEUE_SIZE
            ),
            upload_max_queue_bytes=_parse_positive_int(
                env.get(UPLOAD_MAX_QUEUE_BYTES), DEFAULT_UPLOAD_MAX_QUEUE_BYTES, UPLOAD_MAX_QUEUE_BYTES
            ),
            upload_keep_inline=_parse_bool(env.get(UPLOAD_KEEP_INLINE)),
            upload_min_size=_parse_positive_int(
                env.get(UPLOAD_MIN_SIZE), 0, UPLOAD_MIN_SIZE, allow_zero=True
            ),
            upload_shutdown_timeout=_parse_seconds(
                env.get(UPLOAD_SHUTDOWN_TIMEOUT), DEFAULT_UPLOAD_SHUTDOWN_TIMEOUT, UPLOAD_SHUTDOWN_TIMEOUT
            ),
        )

    @property
    def emits_event(self) -> bool:
        return self.emit_event or self.content_capture.on_event
