from __future__ import annotations

import logging

import pytest

from genai_otel.config import ContentCapture, Settings, parse_content_capture


@pytest.mark.parametrize(
    ("raw", "mode"),
    [
        (None, ContentCapture.NO_CONTENT),
        ("span_only", ContentCapture.SPAN_ONLY),
        ("EVENT_ONLY", ContentCapture.EVENT_ONLY),
        (" Span_And_Event ", ContentCapture.SPAN_AND_EVENT),
        ("NO_CONTENT", ContentCapture.NO_CONTENT),
        ("false", ContentCapture.NO_CONTENT),
    ],
)
def test_capture_modes(raw, mode):
    assert parse_content_capture(raw) is mode


def test_legacy_true_means_no_content_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        assert parse_content_capture("true") is ContentCapture.NO_CONTENT
    assert "will NOT be captured" in caplog.text


def test_settings_from_env():
    s = Settings.from_env(
        {
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_AND_EVENT",
            "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT": "true",
            "GENAI_OTEL_SEMCONV_PROFILES": "legacy, latest, bogus",
            "GENAI_OTEL_MAX_CONTENT_LENGTH": "100",
            "GENAI_OTEL_DISABLED_INSTRUMENTATIONS": "anthropic",
        }
    )
    assert s.content_capture is ContentCapture.SPAN_AND_EVENT and s.emit_event and s.emits_event
    assert s.profiles == ("legacy", "latest")
    assert s.max_content_length == 100
    assert s.disabled_instrumentations == {"anthropic"}


def test_defaults_and_bad_values():
    s = Settings.from_env({"GENAI_OTEL_MAX_CONTENT_LENGTH": "-5"})
    assert s.profiles == ("latest",) and s.max_content_length == 16384 and not s.emits_event
    opt_in = Settings.from_env(
        {
            "OTEL_SEMCONV_STABILITY_OPT_IN": "http,gen_ai_latest_experimental",
            "GENAI_OTEL_SEMCONV_PROFILES": "legacy",
        }
    )
    assert opt_in.profiles == ("latest", "legacy")
