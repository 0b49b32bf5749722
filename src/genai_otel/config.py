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

from genai_otel import semconv

_logger = logging.getLogger(__name__)

# Standard OpenTelemetry GenAI variables.
CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
EMIT_EVENT = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
SEMCONV_STABILITY_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
# genai-otel's own variables.
SEMCONV_PROFILES = "GENAI_OTEL_SEMCONV_PROFILES"
MAX_CONTENT_LENGTH = "GENAI_OTEL_MAX_CONTENT_LENGTH"
DISABLED_INSTRUMENTATIONS = "GENAI_OTEL_DISABLED_INSTRUMENTATIONS"

DEFAULT_MAX_CONTENT_LENGTH = 16 * 1024


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


def _parse_positive_int(raw: str | None, default: int, name: str) -> int:
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        _logger.warning("%s=%r is not a positive integer; using %d", name, raw, default)
        return default
    return value


@dataclass(frozen=True)
class Settings:
    """genai-otel settings. ``Settings.from_env()`` reads them from the environment."""

    content_capture: ContentCapture = ContentCapture.NO_CONTENT
    emit_event: bool = False
    profiles: tuple[str, ...] = (semconv.DEFAULT_METRIC_PROFILE,)
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    disabled_instrumentations: frozenset[str] = field(default_factory=frozenset)

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
        )

    @property
    def emits_event(self) -> bool:
        return self.emit_event or self.content_capture.on_event
