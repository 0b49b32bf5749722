"""Ollama through the real ``ollama`` client against the model server's native Ollama API (NDJSON)."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import StatusCode

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture

MESSAGES = [{"role": "user", "content": "hi there"}]


@pytest.fixture
def client(model_server):
    import ollama

    return ollama.Client(host=model_server.url)


@pytest.fixture
def async_client(model_server):
    import ollama

    return ollama.AsyncClient(host=model_server.url)


def test_chat_with_options(otel, client, model_server):
    reply = client.chat(
        model="llama3.2", messages=MESSAGES, options={"temperature": 0.1, "num_predict": 20, "top_k": 5}
    )
    assert reply.message.content == "Echo: hi there"
    [span] = otel.spans()
    a = span.attributes
    assert span.name == "chat llama3.2"
    assert a[sc.GEN_AI_PROVIDER_NAME] == "ollama"
    assert (
        a[sc.GEN_AI_REQUEST_TEMPERATURE],
        a[sc.GEN_AI_REQUEST_MAX_TOKENS],
        a[sc.GEN_AI_REQUEST_TOP_K],
    ) == (0.1, 20, 5)
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (2, 3)
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[sc.SERVER_PORT] == model_server.server_address[1]


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_streamed_tool_call(otel, client):
    chunks = list(
        client.chat(
            model="llama-tool",
            messages=MESSAGES,
            stream=True,
            tools=[
                {
                    "type": "function",
                    "function": {"name": "get_weather", "description": "Weather", "parameters": {}},
                }
            ],
        )
    )
    assert chunks[-1].done
    [span] = otel.spans()
    a = span.attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    [message] = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}}]
    assert json.loads(a[sc.GEN_AI_TOOL_DEFINITIONS])[0]["name"] == "get_weather"


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_generate_is_a_text_completion(otel, client):
    assert client.generate(model="llama3.2", prompt="say hi", system="be brief").response == "Echo: say hi"
    [span] = otel.spans()
    assert span.name == "text_completion llama3.2"
    assert json.loads(span.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "be brief"}
    ]


def test_stream_closed_early(otel, client):
    stream = client.generate(model="llama3.2", prompt="one two three four", stream=True)
    next(stream)
    stream.close()
    [span] = otel.spans()
    assert span.end_time is not None


def test_embed(otel, client):
    result = client.embed(model="nomic-embed-text", input=["a b", "c"])
    assert len(result.embeddings) == 2
    [span] = otel.spans()
    assert span.name == "embeddings nomic-embed-text"
    assert span.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3


async def test_async_chat_and_stream(otel, async_client):
    reply = await async_client.chat(model="llama3.2", messages=MESSAGES)
    assert reply.message.content == "Echo: hi there"
    chunks = [c async for c in await async_client.chat(model="llama3.2", messages=MESSAGES, stream=True)]
    assert "".join(c.message.content for c in chunks) == "Echo: hi there"
    spans = otel.spans()
    assert len(spans) == 2 and all(s.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 3 for s in spans)


def test_error_passes_through(otel, client):
    import ollama

    with pytest.raises(ollama.ResponseError):
        client.chat(model="error-500", messages=MESSAGES)
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "ResponseError"
