"""LiteLLM in its own virtualenv (every LiteLLM release installable here pins openai < 3, while the
suite runs openai 3.x): one span per model call with the openai SDK instrumented underneath."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .venvs import ensure

APP = Path(__file__).parent / "apps" / "litellm_app.py"


@pytest.fixture(scope="module")
def scenarios() -> dict[str, dict]:
    python = ensure("litellm-venv")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None)
    done = subprocess.run([str(python), str(APP)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    # LiteLLM prints banners to stdout: keep the JSON lines.
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {row.get("scenario", "header"): row for row in rows}


def _only_span(row: dict) -> dict:
    assert row["violations"] == []
    [span] = row["spans"]  # exactly one span: LiteLLM's, with the SDK call merged into it
    assert span["scope"] == "genai_otel"
    return span


def test_litellm_and_openai_sdk_are_both_instrumented(scenarios):
    assert {"openai", "litellm"} <= set(scenarios["header"]["instrumented"])


def test_openai_route_is_one_span_with_the_sdk_details_merged(scenarios):
    a = _only_span(scenarios["openai"])["attributes"]
    assert a["gen_ai.provider.name"] == "openai" and a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.request.temperature"] == 0.2
    # These come from the openai SDK's response, merged into LiteLLM's span.
    assert a["gen_ai.response.id"] == "chatcmpl-local123"
    assert a["gen_ai.response.model"] == "gpt-4o-mini-2026-01-01"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (2, 3)


def test_anthropic_route_maps_the_provider(scenarios):
    span = _only_span(scenarios["anthropic"])
    assert span["name"] == "chat claude-sonnet"
    assert span["attributes"]["gen_ai.provider.name"] == "anthropic"
    assert span["attributes"]["gen_ai.usage.output_tokens"] == 3


def test_stream_async_and_embedding_are_one_span_each(scenarios):
    stream = _only_span(scenarios["stream"])["attributes"]
    assert stream["gen_ai.request.stream"] is True and stream["gen_ai.usage.output_tokens"] == 3
    assert _only_span(scenarios["async"])["attributes"]["gen_ai.response.id"] == "chatcmpl-local123"
    embedding = _only_span(scenarios["embedding"])
    assert embedding["name"] == "embeddings text-embedding-3-small"
    assert embedding["attributes"]["gen_ai.embeddings.dimension.count"] == 8


def test_error_is_recorded_once(scenarios):
    row = scenarios["error"]
    assert row["error"] == "RateLimitError"
    span = _only_span(row)
    assert span["status"] == "ERROR" and span["attributes"]["error.type"] == "RateLimitError"


def test_content_capture_and_early_closed_stream(scenarios):
    a = _only_span(scenarios["openai"])["attributes"]
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi there"}]}
    ]
    assert json.loads(a["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": "Echo: hi there"}
    ]
    closed = _only_span(scenarios["stream-closed"])
    assert closed["name"] == "chat gpt-4o"  # ended (exported) although the stream was not consumed


def test_metrics_are_conformant(scenarios):
    row = scenarios["metrics"]
    assert row["violations"] == []
    assert "gen_ai.client.inference.duration" in row["names"]


def test_the_sdk_alone_still_gets_its_span(scenarios):
    assert _only_span(scenarios["sdk-alone"])["attributes"]["openai.api.type"] == "chat_completions"
