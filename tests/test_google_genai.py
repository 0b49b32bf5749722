"""Gemini through the real ``google-genai`` SDK against the model server's Gemini API protocol."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry.trace import StatusCode

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture

from .conftest import API_KEY


@pytest.fixture
def client(model_server):
    from google import genai
    from google.genai import types

    return genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=model_server.url))


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_generate_content_with_config_and_thinking(otel, client, model_server):
    from google.genai import types

    config = types.GenerateContentConfig(
        temperature=0.2,
        top_k=8,
        max_output_tokens=64,
        system_instruction="be brief",
        response_mime_type="application/json",
    )
    response = client.models.generate_content(
        model="gemini-2.5-flash-reason", contents="hi there", config=config
    )
    assert response.text == "Echo: hi there"
    [span] = otel.spans()
    a = span.attributes
    assert span.name == "generate_content gemini-2.5-flash-reason"
    assert a[sc.GEN_AI_PROVIDER_NAME] == "gcp.gemini" and a[sc.GEN_AI_OUTPUT_TYPE] == "json"
    assert (
        a[sc.GEN_AI_REQUEST_TEMPERATURE],
        a[sc.GEN_AI_REQUEST_TOP_K],
        a[sc.GEN_AI_REQUEST_MAX_TOKENS],
    ) == (0.2, 8, 64)
    # Output tokens include the thinking tokens, which are also reported on their own.
    assert (a[sc.GEN_AI_USAGE_OUTPUT_TOKENS], a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS]) == (10, 7)
    assert a[sc.GEN_AI_USAGE_TEXT_INPUT_TOKENS] == a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2
    assert (
        a[sc.GEN_AI_RESPONSE_MODEL] == "gemini-2.5-flash-reason-001"
        and a[sc.GEN_AI_RESPONSE_ID] == "gemini-local123"
    )
    assert json.loads(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "be brief"}]
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi there"}]}
    ]
    assert a[sc.SERVER_PORT] == model_server.server_address[1]


def test_cached_tokens(otel, client):
    client.models.generate_content(model="gemini-cache", contents="hi")
    [span] = otel.spans()
    assert span.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 10
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 11  # includes the cached tokens


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_streamed_function_call(otel, client):
    chunks = list(client.models.generate_content_stream(model="gemini-tool", contents="weather?"))
    assert chunks[-1].function_calls[0].name == "get_weather"
    [span] = otel.spans()
    a = span.attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    [message] = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}}]


def test_stream_closed_early(otel, client):
    stream = client.models.generate_content_stream(
        model="gemini-2.5-flash", contents="one two three four five"
    )
    next(stream)
    stream.close()
    [span] = otel.spans()
    assert span.end_time is not None


def test_async_stream_closed_early_by_aclose(otel, client):
    """google-genai's async stream is an async generator (``aclose()`` only, no ``close()``)."""

    async def run():
        stream = await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents="one two three four five"
        )
        await stream.__anext__()
        await stream.aclose()

    asyncio.run(run())
    [span] = otel.spans()
    assert span.end_time is not None and span.status.status_code is not StatusCode.ERROR


def test_async(otel, client):
    async def run():
        first = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
        chunks = [
            c
            async for c in await client.aio.models.generate_content_stream(
                model="gemini-2.5-flash", contents="hi"
            )
        ]
        return first, chunks

    first, chunks = asyncio.run(run())
    assert first.text == "Echo: hi" and "".join(c.text for c in chunks) == "Echo: hi"
    assert [s.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] for s in otel.spans()] == [2, 2]


def test_embed_content(otel, client):
    result = client.models.embed_content(model="text-embedding-004", contents=["a", "b"])
    assert len(result.embeddings) == 2
    [span] = otel.spans()
    assert span.name == "embeddings text-embedding-004"
    assert span.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8


def test_error_passes_through(otel, client):
    from google.genai import errors

    with pytest.raises(errors.ClientError):
        client.models.generate_content(model="error-429", contents="hi")
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR and span.attributes[sc.ERROR_TYPE] == "ClientError"
