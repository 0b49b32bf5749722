from __future__ import annotations

import json

from genai_otel.telemetry.content import TRUNCATION_MARKER, serialize


def test_small_content_is_untouched():
    text, cut = serialize([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}], 1000)
    assert not cut and json.loads(text)[0]["role"] == "user"


def test_large_content_stays_valid_json_within_cap():
    messages = [{"role": "user", "parts": [{"type": "text", "content": "x" * 100_000}]}] * 3
    text, cut = serialize(messages, 2000)
    assert cut and len(text) <= 2000
    parsed = json.loads(text)
    assert parsed[0]["parts"][0]["content"].endswith(TRUNCATION_MARKER)


def test_structure_too_large_is_cut_with_marker():
    messages = [{"role": "user", "parts": [{"type": "text", "content": str(i)}]} for i in range(5000)]
    text, cut = serialize(messages, 500)
    assert cut and len(text) <= 500 and text.endswith(TRUNCATION_MARKER)
