"""Groq, Mistral AI and Azure AI Inference: OpenAI-shaped chat APIs through their real SDKs.

Each SDK talks to the local model server (which answers in the dialect the SDK expects: Groq's
``x_groq`` stream usage, Mistral's and Azure's always-sent stream usage).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture

from .conftest import API_KEY

MESSAGES = [{"role": "user", "content": "hi there"}]


@dataclass
class Driver:
    provider: str
    client: Callable[[Any], Any]
    async_client: Callable[[Any], Any]
    chat: Callable[..., Any]
    stream: Callable[..., Any]  # returns an iterable of chunks
    embed: Callable[..., Any]
    error: type


def _groq() -> Driver:
    import groq

    return Driver(
        "groq",
        lambda s: groq.Groq(base_url=s.url, api_key=API_KEY, max_retries=0),
        lambda s: groq.AsyncGroq(base_url=s.url, api_key=API_KEY, max_retries=0),
        lambda c, model, **kw: c.chat.completions.create(model=model, messages=MESSAGES, **kw),
        lambda c, model, **kw: c.chat.completions.create(model=model, messages=MESSAGES, stream=True, **kw),
        lambda c, model: c.embeddings.create(model=model, input=["a b", "c"]),
        groq.RateLimitError,
    )


def _mistral() -> Driver:
    from mistralai.client import Mistral, errors

    return Driver(
        "mistral_ai",
        lambda s: Mistral(api_key=API_KEY, server_url=s.url),
        lambda s: Mistral(api_key=API_KEY, server_url=s.url),
        lambda c, model, **kw: (c.chat.complete_async if kw.pop("_async", False) else c.chat.complete)(
            model=model, messages=MESSAGES, **kw
        ),
        lambda c, model, **kw: c.chat.stream(model=model, messages=MESSAGES, **kw),
        lambda c, model: c.embeddings.create(model=model, inputs=["a b", "c"]),
        errors.SDKError,
    )


def _azure() -> Driver:
    from azure.ai.inference import ChatCompletionsClient, EmbeddingsClient
    from azure.ai.inference.aio import ChatCompletionsClient as AsyncChat
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import HttpResponseError

    key = AzureKeyCredential(API_KEY)
    return Driver(
        "azure.ai.inference",
        lambda s: (
            ChatCompletionsClient(endpoint=f"{s.url}/models", credential=key),
            EmbeddingsClient(endpoint=f"{s.url}/models", credential=key),
        ),
        lambda s: (AsyncChat(endpoint=f"{s.url}/models", credential=key), None),
        lambda c, model, **kw: c[0].complete(model=model, messages=MESSAGES, **kw),
        lambda c, model, **kw: c[0].complete(model=model, messages=MESSAGES, stream=True, **kw),
        lambda c, model: c[1].embed(model=model, input=["a b", "c"]),
        HttpResponseError,
    )


DRIVERS = {"groq": _groq, "mistral": _mistral, "azure": _azure}


@pytest.fixture(params=list(DRIVERS))
def driver(request) -> Driver:
    return DRIVERS[request.param]()


def _chat_span(otel):
    [span] = [s for s in otel.spans() if s.name.startswith("chat ")]
    return span


def test_chat(otel, model_server, driver):
    result = driver.chat(driver.client(model_server), "model-a", temperature=0.2, max_tokens=50)
    assert result.choices[0].message.content == "Echo: hi there"
    span = _chat_span(otel)
    assert span.name == "chat model-a"
    a = span.attributes
    assert a[sc.GEN_AI_PROVIDER_NAME] == driver.provider
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2 and a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "model-a-2026-01-01"
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2 and a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert a[sc.SERVER_ADDRESS] == "127.0.0.1" and a[sc.SERVER_PORT] == model_server.server_address[1]
    assert not any(k.startswith("openai.") for k in a)  # OpenAI's own attributes stay OpenAI's
    # One span per model call: no SDK-emitted duplicate (mistralai traces itself when allowed).
    assert [s.instrumentation_scope.name for s in otel.spans()] == ["genai_otel"]


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_streamed_tool_call_is_reassembled_with_usage(otel, model_server, driver):
    chunks = list(driver.stream(driver.client(model_server), "model-tool"))
    assert chunks
    a = _chat_span(otel).attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0  # each provider's own way of reporting stream usage
    [message] = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    [call] = message["parts"]
    assert call == {
        "type": "tool_call",
        "id": "call_0",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi there"}]}
    ]


def test_stream_closed_early_ends_the_span(otel, model_server, driver):
    stream = driver.stream(driver.client(model_server), "model-a")
    iterator = iter(stream)
    next(iterator)
    stream.close()
    assert _chat_span(otel).end_time is not None


def test_async_chat(otel, model_server, driver):
    async def run():
        client = driver.async_client(model_server)
        if driver.provider == "mistral_ai":
            return await driver.chat(client, "model-a", _async=True)
        if driver.provider == "azure.ai.inference":
            async with client[0]:
                return await client[0].complete(model="model-a", messages=MESSAGES)
        return await driver.chat(client, "model-a")

    result = asyncio.run(run())
    assert result.choices[0].message.content == "Echo: hi there"
    assert _chat_span(otel).attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2


def test_embeddings(otel, model_server, driver):
    result = driver.embed(driver.client(model_server), "embed-model")
    assert len(result.data) == 2
    [span] = otel.spans()
    assert span.name == "embeddings embed-model"
    assert span.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == driver.provider


def test_provider_error_passes_through(otel, model_server, driver):
    with pytest.raises(driver.error):
        driver.chat(driver.client(model_server), "error-429")
    span = _chat_span(otel)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == driver.error.__name__
