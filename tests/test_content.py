from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from genai_otel import semconv as sc
from genai_otel.telemetry.content import TRUNCATION_MARKER, attributes, serialize
from genai_otel.telemetry.upload import ContentUpload


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


MESSAGES = [{"role": "user", "parts": [{"type": "text", "content": "y" * 5000}]}]


def test_attributes_without_upload_are_size_limited_and_listed():
    out = attributes([(sc.GEN_AI_INPUT_MESSAGES, MESSAGES), (sc.GEN_AI_OUTPUT_MESSAGES, None)], 1000)
    assert set(out) == {sc.GEN_AI_INPUT_MESSAGES, sc.GENAI_OTEL_CONTENT_TRUNCATED}
    assert len(out[sc.GEN_AI_INPUT_MESSAGES]) <= 1000
    assert out[sc.GENAI_OTEL_CONTENT_TRUNCATED] == [sc.GEN_AI_INPUT_MESSAGES]


class _Notebook:
    """A user's own hook: keeps input messages in memory, declines everything else."""

    def __init__(self) -> None:
        self.kept: dict[str, str] = {}

    def upload(self, content: Mapping[str, str], *, trace_id: int, span_id: int) -> Mapping[str, str]:
        taken = {k: v for k, v in content.items() if k == sc.GEN_AI_INPUT_MESSAGES}
        self.kept.update(taken)
        return {k: f"memory://{trace_id}/{span_id}/{k}" for k in taken}

    def shutdown(self, timeout: float) -> bool:
        return True


def test_a_hook_takes_what_it_accepts_and_the_rest_stays_inline():
    hook = _Notebook()
    values = [(sc.GEN_AI_INPUT_MESSAGES, MESSAGES), (sc.GEN_AI_OUTPUT_MESSAGES, MESSAGES)]
    out = attributes(values, 1000, ContentUpload(hook))
    assert json.loads(hook.kept[sc.GEN_AI_INPUT_MESSAGES]) == MESSAGES  # whole, not truncated
    assert out[sc.GEN_AI_INPUT_MESSAGES + "_ref"] == f"memory://0/0/{sc.GEN_AI_INPUT_MESSAGES}"
    assert sc.GEN_AI_INPUT_MESSAGES not in out
    assert len(out[sc.GEN_AI_OUTPUT_MESSAGES]) <= 1000  # declined: inline, size-limited
    assert out[sc.GENAI_OTEL_CONTENT_TRUNCATED] == [sc.GEN_AI_OUTPUT_MESSAGES]


class _Broken(_Notebook):
    def upload(self, content: Mapping[str, str], *, trace_id: int, span_id: int) -> Mapping[str, str]:
        raise RuntimeError("the hook has a bug")


def test_a_failing_hook_leaves_the_content_inline_and_is_logged_once(caplog):
    upload = ContentUpload(_Broken())
    with caplog.at_level(logging.WARNING, logger="genai_otel"):
        for _ in range(3):
            out = attributes([(sc.GEN_AI_INPUT_MESSAGES, MESSAGES)], 100_000, upload)
            assert json.loads(out[sc.GEN_AI_INPUT_MESSAGES]) == MESSAGES
    assert len([r for r in caplog.records if "content upload hook" in r.getMessage()]) <= 1
