"""A stream the app stops reading ends its span exactly once, as a success (stopping early is not an error),
with the usage the chunks read so far reported -- for every streaming client: break out of the loop after
the first chunk (the span ends when the stream is collected), ``close()``, and a stream never read at all
that is garbage-collected.

Each provider's real SDK streams from the local model server.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from genai_otel import semconv as sc

from .conftest import API_KEY

MESSAGES = [{"role": "user", "content": "hi there"}]


@dataclass(frozen=True)
class Streamer:
    """``open(model_server)`` makes the streamed call and returns the SDK's stream; ``usage_in_first``:
    whether the provider's first chunk already carries token usage (Anthropic's ``message_start``)."""

    open: Callable[[Any], Any]
    usage_in_first: bool = False
    #: What to call to close it, when the SDK's stream object is not itself closable.
    close: Callable[[Any], None] = lambda stream: stream.close()


def _openai(server: Any) -> Any:
    import openai

    client = openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY, max_retries=0)
    return client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )


def _groq(server: Any) -> Any:
    import groq

    client = groq.Groq(base_url=server.url, api_key=API_KEY, max_retries=0)
    return client.chat.completions.create(model="model-a", messages=MESSAGES, stream=True)


def _mistral(server: Any) -> Any:
    from mistralai.client import Mistral

    return Mistral(api_key=API_KEY, server_url=server.url).chat.stream(model="model-a", messages=MESSAGES)


def _azure(server: Any) -> Any:
    from azure.ai.inference import ChatCompletionsClient
    from azure.core.credentials import AzureKeyCredential

    client = ChatCompletionsClient(endpoint=f"{server.url}/models", credential=AzureKeyCredential(API_KEY))
    return client.complete(model="model-a", messages=MESSAGES, stream=True)


def _anthropic(server: Any) -> Any:
    import anthropic

    client = anthropic.Anthropic(base_url=server.url, api_key=API_KEY, max_retries=0)
    return client.messages.create(model="claude-x", max_tokens=32, messages=MESSAGES, stream=True)


def _cohere(server: Any) -> Any:
    import cohere

    return cohere.ClientV2(api_key=API_KEY, base_url=server.url).chat_stream(
        model="command-a", messages=MESSAGES
    )


def _google(server: Any) -> Any:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=server.url))
    _KEEP.append(client)  # the client closes its HTTP connection pool when collected: keep it for the test
    return client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi there")


def _ollama(server: Any) -> Any:
    import ollama

    return ollama.Client(host=server.url).chat(model="llama3.2", messages=MESSAGES, stream=True)


def _bedrock(server: Any) -> Any:
    import boto3

    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret-example",
    )
    return client.converse_stream(
        modelId="anthropic.claude-sonnet", messages=[{"role": "user", "content": [{"text": "hi there"}]}]
    )["stream"]


_KEEP: list[Any] = []

STREAMERS = {
    "openai": Streamer(_openai),
    "groq": Streamer(_groq),
    "mistral": Streamer(_mistral),
    "azure": Streamer(_azure),
    "cohere": Streamer(_cohere),
    "google": Streamer(_google),
    "ollama": Streamer(_ollama),
    "bedrock": Streamer(_bedrock),
    "anthropic": Streamer(_anthropic, usage_in_first=True),  # message_start carries the input usage
}


#: The instrumentors these streams go through (instrumenting only these keeps each test short).
INSTRUMENTED = (
    "openai",
    "groq",
    "mistralai",
    "azure.ai.inference",
    "cohere",
    "google.genai",
    "ollama",
    "botocore",
    "anthropic",
)


@pytest.fixture
def ended_twice(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The SDK's own warning when ``end()`` is called on an ended span: a second end is a bug of ours."""
    caplog.set_level(logging.WARNING, logger="opentelemetry.sdk.trace")
    return lambda: [r.getMessage() for r in caplog.records if "ended span" in r.getMessage()]


def _model_spans(otel: Any) -> list[Any]:
    return [s for s in otel.spans() if s.attributes.get(sc.GEN_AI_OPERATION_NAME) in _OPERATIONS]


_OPERATIONS = ("chat", "generate_content")


@pytest.fixture(autouse=True)
def _release_clients():
    yield
    _KEEP.clear()


def _check(otel: Any, ended_twice: Callable[[], list[str]], *, usage: bool) -> Any:
    chats = _model_spans(otel)
    assert len(chats) == 1, [s.name for s in otel.spans()]
    [span] = chats
    assert span.status.status_code is StatusCode.UNSET, span.status  # stopping early is not a failure
    assert sc.ERROR_TYPE not in span.attributes
    assert not [e for e in span.events if e.name == "exception"]
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    # The usage read so far: reported when a chunk carried it; never invented when none did.
    assert (sc.GEN_AI_USAGE_INPUT_TOKENS in span.attributes) is usage, dict(span.attributes)
    if usage:
        assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
    # Ended once: one duration point, no "end() on an ended span" warning (that would also double metrics).
    duration = otel.metrics()[sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION]
    [point] = duration.data.data_points
    assert point.count == 1 and sc.ERROR_TYPE not in point.attributes
    assert not ended_twice()
    return span


@pytest.mark.parametrize("name", list(STREAMERS))
@pytest.mark.instrument_only(*INSTRUMENTED)
def test_break_after_the_first_chunk(otel, model_server, ended_twice, name):
    streamer = STREAMERS[name]
    stream = streamer.open(model_server)
    for _chunk in stream:
        break
    del stream, _chunk
    gc.collect()  # a stream the app dropped ends its span when collected
    span = _check(otel, ended_twice, usage=streamer.usage_in_first)
    assert span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


@pytest.mark.parametrize("name", list(STREAMERS))
@pytest.mark.instrument_only(*INSTRUMENTED)
def test_close_after_the_first_chunk(otel, model_server, ended_twice, name):
    streamer = STREAMERS[name]
    stream = streamer.open(model_server)
    next(iter(stream))
    streamer.close(stream)
    [span] = _model_spans(otel)
    assert span.end_time is not None  # ended by close() itself, not later by the collector
    streamer.close(stream)  # closing twice is harmless
    del stream
    _check(otel, ended_twice, usage=streamer.usage_in_first)


@pytest.mark.parametrize("name", list(STREAMERS))
@pytest.mark.instrument_only(*INSTRUMENTED)
def test_abandoned_stream_is_ended_when_collected(otel, model_server, ended_twice, name):
    STREAMERS[name].open(model_server)  # never read, never closed: dropped at once
    gc.collect()
    span = _check(otel, ended_twice, usage=False)
    assert sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in span.attributes


@pytest.mark.instrument_only("openai")
async def test_async_break_and_aclose(otel, model_server, ended_twice):
    import openai

    client = openai.AsyncOpenAI(base_url=model_server.openai_base_url, api_key=API_KEY, max_retries=0)
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    async for _chunk in stream:
        break
    await stream.close()
    _check(otel, ended_twice, usage=False)


@pytest.mark.parametrize("name", ["ollama", "cohere"])
@pytest.mark.instrument_only(*INSTRUMENTED)
def test_a_lazy_stream_request_is_a_child_of_its_model_span(otel, model_server, name):
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument()
    try:
        for _chunk in STREAMERS[name].open(model_server):
            pass
    finally:
        HTTPXClientInstrumentor().uninstrument()
    [model] = _model_spans(otel)
    [http] = [s for s in otel.spans() if s.name == "POST"]
    assert http.parent is not None and http.parent.span_id == model.context.span_id


async def _ollama_async(server: Any) -> Any:
    import ollama

    return await ollama.AsyncClient(host=server.url).chat(model="llama3.2", messages=MESSAGES, stream=True)


async def _cohere_async(server: Any) -> Any:
    import cohere

    return cohere.AsyncClientV2(api_key=API_KEY, base_url=server.url).chat_stream(
        model="command-a", messages=MESSAGES
    )


@pytest.mark.parametrize("name", ["ollama", "cohere"])
@pytest.mark.instrument_only(*INSTRUMENTED)
async def test_a_lazy_async_stream_request_is_a_child_of_its_model_span(otel, model_server, name):
    from opentelemetry import context as otel_context
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    opener = {"ollama": _ollama_async, "cohere": _cohere_async}[name]
    HTTPXClientInstrumentor().instrument()
    try:
        before = otel_context.get_current()
        stream = await opener(model_server)
        async for _chunk in stream:
            # Between steps the caller's context is its own: the span is current only inside a step.
            assert otel_context.get_current() is before
    finally:
        HTTPXClientInstrumentor().uninstrument()
    [model] = _model_spans(otel)
    [http] = [s for s in otel.spans() if s.name == "POST"]
    assert http.parent is not None and http.parent.span_id == model.context.span_id
