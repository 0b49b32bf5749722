"""Cohere v2 through the real ``cohere`` SDK against the model server's Cohere protocol."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture

from .conftest import API_KEY

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}]


@pytest.fixture
def client(model_server):
    import cohere

    return cohere.ClientV2(api_key=API_KEY, base_url=model_server.url)


@pytest.fixture
def async_client(model_server):
    import cohere

    return cohere.AsyncClientV2(api_key=API_KEY, base_url=model_server.url)


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_chat(otel, client):
    reply = client.chat(model="command-a", messages=MESSAGES, temperature=0.3, p=0.9, k=4, max_tokens=40)
    assert reply.message.content[0].text == "Echo: hi there"
    [span] = otel.spans()
    a = span.attributes
    assert span.name == "chat command-a" and a[sc.GEN_AI_PROVIDER_NAME] == "cohere"
    assert (a[sc.GEN_AI_REQUEST_TOP_P], a[sc.GEN_AI_REQUEST_TOP_K], a[sc.GEN_AI_REQUEST_MAX_TOKENS]) == (
        0.9,
        4,
        40,
    )
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (4, 3)
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert json.loads(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "be brief"}]
    assert [m["role"] for m in json.loads(a[sc.GEN_AI_INPUT_MESSAGES])] == ["user"]


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_chat_stream_tool_call(otel, client):
    events = list(client.chat_stream(model="command-tool", messages=MESSAGES))
    assert events[-1].type == "message-end"
    [span] = otel.spans()
    a = span.attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True and a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0 and a[sc.GEN_AI_RESPONSE_ID] == "cohere-local123"
    [message] = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [
        {"type": "tool_call", "id": "call_0", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    ]


async def test_async_chat_and_stream(otel, async_client):
    reply = await async_client.chat(model="command-a", messages=MESSAGES)
    assert reply.message.content[0].text == "Echo: hi there"
    events = [e async for e in async_client.chat_stream(model="command-a", messages=MESSAGES)]
    assert events[-1].type == "message-end"
    spans = otel.spans()
    assert [s.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] for s in spans] == [3, 3]
    assert spans[1].attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


def test_stream_closed_early(otel, client):
    stream = client.chat_stream(model="command-a", messages=MESSAGES)
    next(stream)
    stream.close()
    [span] = otel.spans()
    assert span.end_time is not None


def test_embed(otel, client):
    result = client.embed(
        model="embed-v4.0", texts=["a b", "c"], input_type="search_document", embedding_types=["float"]
    )
    assert len(result.embeddings.float_) == 2
    [span] = otel.spans()
    assert span.name == "embeddings embed-v4.0"
    assert span.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert span.attributes[sc.GEN_AI_REQUEST_ENCODING_FORMATS] == ("float",)


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_rerank(otel, client):
    result = client.rerank(
        model="rerank-v3.5", query="paris weather", documents=["rome food", "weather in paris"], top_n=1
    )
    assert result.results[0].index == 1
    [span] = otel.spans()
    assert span.name == "rerank rerank-v3.5" and span.kind is SpanKind.CLIENT
    assert span.attributes[sc.GEN_AI_RETRIEVAL_TOP_K] == 1
    assert json.loads(span.attributes[sc.GEN_AI_RETRIEVAL_DOCUMENTS]) == [{"id": "1", "score": 1.0}]


def test_error_passes_through(otel, client):
    import cohere

    with pytest.raises(cohere.errors.TooManyRequestsError):
        client.chat(model="error-429", messages=MESSAGES)
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "TooManyRequestsError"
