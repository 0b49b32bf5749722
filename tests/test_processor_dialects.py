"""The normalise rule (and cost, redaction) on spans the anchor libraries really emit: OpenLLMetry,
OpenInference, OpenLIT and the OpenTelemetry contrib openai-v2 instrumentation each instrument the real
OpenAI SDK (in a venv of their own) calling the local model server, and export over OTLP to the processor
service; what comes out must be the latest GenAI conventions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from genai_otel import semconv as sc
from genai_otel.processor.service import ProcessorService
from genai_otel.testing.conformance import check_spans, format_violations, span_view
from genai_otel.testing.otlp_receiver import OtlpReceiver

from .servers import wait_until
from .venvs import ensure

APP = Path(__file__).parent / "apps" / "dialects_app.py"
DIALECTS = ["openllmetry", "openinference", "openlit", "openai_v2"]
# What each anchor leaves that the latest conventions do not have (and must not survive normalisation).
FOREIGN_PREFIXES = (
    "llm.",
    "traceloop.",
    "input.",
    "output.",
    "embedding.",
    "openinference.",
    "gen_ai.prompt.",
    "openlit.",
    "telemetry.sdk.",
)


@pytest.fixture(params=DIALECTS)
def processed(request, model_server, tmp_path) -> list:
    """The dialect app's three calls (chat, streamed chat, embeddings) as they leave the processor."""
    with OtlpReceiver() as downstream:
        forward = downstream.endpoint.removeprefix("http://")
        with ProcessorService("127.0.0.1:0", forward, tmp_path / "spool") as service:
            endpoint = f"127.0.0.1:{service.port}"
            python = ensure("openlit-venv" if request.param == "openlit" else "dialects-venv")
            done = subprocess.run(
                [str(python), str(APP), request.param, endpoint, model_server.openai_base_url],
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert done.returncode == 0, done.stderr[-3000:]
            wait_until(lambda: len(downstream.spans()) >= 3)
        return [span_view(span) for _, span in downstream.spans()]


def test_dialect_spans_become_conformant_latest_conventions(processed):
    assert not check_spans(processed, content_captured=True), format_violations(
        check_spans(processed, content_captured=True)
    )
    by_operation = {}
    for view in processed:
        by_operation.setdefault(view.attributes[sc.GEN_AI_OPERATION_NAME], []).append(view)
        assert view.attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"
        assert not [k for k in view.attributes if k.startswith(FOREIGN_PREFIXES)], view.attributes
    assert len(by_operation["chat"]) == 2 and len(by_operation["embeddings"]) == 1
    for chat in by_operation["chat"]:
        assert chat.name == f"chat {chat.attributes[sc.GEN_AI_REQUEST_MODEL]}"
        assert chat.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
        assert chat.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
        assert chat.attributes[sc.GENAI_OTEL_USAGE_COST] > 0  # dated snapshot names price as their model


def test_content_is_folded_into_messages_and_redacted(processed):
    first = _chats(processed)["gpt-4o-mini"]
    inputs = json.loads(first.attributes[sc.GEN_AI_INPUT_MESSAGES])
    assert inputs[0]["role"] == "user"
    assert inputs[0]["parts"][0]["content"] == "Mail [REDACTED:EMAIL] the weather"
    assert "jane.doe@example.com" not in json.dumps(first.attributes)
    assert sc.GEN_AI_INPUT_MESSAGES in first.attributes[sc.GENAI_OTEL_REDACTED]


def _chats(processed: list) -> dict:
    """The two chat spans by the model asked for: gpt-4o-mini (plain call), gpt-4o (streamed); OpenInference
    records only the response model (a dated snapshot name)."""
    chats = {}
    for view in processed:
        if view.attributes[sc.GEN_AI_OPERATION_NAME] == "chat":
            model = view.attributes.get(sc.GEN_AI_REQUEST_MODEL) or view.attributes[sc.GEN_AI_RESPONSE_MODEL]
            chats["gpt-4o-mini" if model.startswith("gpt-4o-mini") else "gpt-4o"] = view
    return chats


def test_time_to_first_chunk_only_on_streamed_calls(request, processed):
    chats = _chats(processed)
    assert sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in chats["gpt-4o-mini"].attributes  # OpenLIT: duration
    if "openlit" in request.node.name:  # the anchor that reports it
        assert chats["gpt-4o"].attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
