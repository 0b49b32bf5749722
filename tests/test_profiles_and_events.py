"""Metric/attribute profiles (latest, legacy, both) and the inference details event."""

from __future__ import annotations

import json

import pytest

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.genai_settings(profiles=("legacy",))
def test_legacy_profile(otel, openai_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    openai_client.embeddings.create(model="emb", input="x")
    chat = otel.spans()[0].attributes
    assert (
        chat[sc.GEN_AI_SYSTEM] == "openai"
        and chat[sc.GEN_AI_USAGE_PROMPT_TOKENS] == chat[sc.GEN_AI_USAGE_INPUT_TOKENS]
    )
    metrics = otel.metrics()
    assert sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION not in metrics
    points = metrics[sc.METRIC_GEN_AI_CLIENT_TOKEN_USAGE].data.data_points
    assert {p.attributes[sc.GEN_AI_TOKEN_TYPE] for p in points} == {"input", "output"}
    assert sum(p.count for p in metrics[sc.METRIC_GEN_AI_CLIENT_OPERATION_DURATION].data.data_points) == 2


@pytest.mark.genai_settings(profiles=("latest", "legacy"))
def test_dual_emission_without_double_counting(otel, openai_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    openai_client.embeddings.create(model="emb", input="x")
    metrics = otel.metrics()
    assert metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION].data.data_points[0].count == 1
    # gen_ai.client.operation.duration is in both profiles: one point per operation, not two.
    assert sum(p.count for p in metrics[sc.METRIC_GEN_AI_CLIENT_OPERATION_DURATION].data.data_points) == 2
    assert sc.METRIC_GEN_AI_CLIENT_TOKEN_USAGE in metrics


@pytest.mark.genai_settings(content_capture=ContentCapture.EVENT_ONLY)
def test_event_only_capture(otel, openai_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    span = otel.only_span()
    assert sc.GEN_AI_INPUT_MESSAGES not in span.attributes
    (record,) = otel.logs()
    assert record.event_name == sc.EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS
    assert json.loads(record.attributes[sc.GEN_AI_INPUT_MESSAGES])[0]["role"] == "user"
    assert record.span_id == span.context.span_id


@pytest.mark.genai_settings(emit_event=True)
def test_event_without_content(otel, openai_client):
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    (record,) = otel.logs()
    assert record.attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert sc.GEN_AI_INPUT_MESSAGES not in record.attributes


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY, max_content_length=200)
def test_content_size_cap(otel, openai_client):
    openai_client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "word " * 500}]
    )
    a = otel.only_span().attributes
    assert len(a[sc.GEN_AI_INPUT_MESSAGES]) <= 200
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES])
    assert sc.GEN_AI_INPUT_MESSAGES in a[sc.GENAI_OTEL_CONTENT_TRUNCATED]
