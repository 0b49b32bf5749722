"""Anthropic SDK against the local model server; exactly one span per call despite the SDK's own tracing."""

from __future__ import annotations

import json

import anthropic
import pytest

import genai_otel
from genai_otel import semconv as sc
from genai_otel.config import ContentCapture
from genai_otel.testing import model_server as ms

MESSAGES = [{"role": "user", "content": "hello claude"}]
CAPTURE = pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)


@CAPTURE
def test_create_with_tools_and_cache(otel, anthropic_client):
    tools = [{"name": "get_weather", "description": "weather", "input_schema": {"type": "object"}}]
    message = anthropic_client.messages.create(
        model="claude-tool-cache",
        max_tokens=64,
        messages=MESSAGES,
        system="be brief",
        tools=tools,
        stop_sequences=["###"],
    )
    span = otel.only_span()  # the SDK's own anthropic.messages.create span is suppressed
    a = span.attributes
    assert span.name == "chat claude-tool-cache"
    assert a[sc.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert a[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ("###",) and a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    usage = message.usage
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == (
        usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    )
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == ms.CACHED_TOKENS
    assert a[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == ms.CACHE_WRITE_TOKENS
    assert json.loads(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "be brief"}]
    parts = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert parts[1].pop("id").startswith("toolu_local_")
    assert parts[1] == {"type": "tool_call", "name": ms.TOOL_NAME, "arguments": {"city": "Paris"}}
    metrics = otel.metrics()
    assert (
        metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS].data.data_points[0].value
        == 5
    )


@CAPTURE
def test_stream_true_reassembles_tool_use(otel, anthropic_client):
    stream = anthropic_client.messages.create(
        model="claude-tool", max_tokens=64, messages=MESSAGES, stream=True
    )
    for _ in stream:
        pass
    a = otel.only_span().attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 1  # the final message_delta count, not message_start's
    parts = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert parts[0]["content"] == "Echo: hello claude"
    assert parts[1]["arguments"] == {"city": "Paris"}


def test_messages_stream_helper(otel, anthropic_client):
    with anthropic_client.messages.stream(model="claude-x", max_tokens=64, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: hello claude"
    span = otel.only_span()
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == final.id
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == final.usage.output_tokens


def test_messages_stream_helper_closed_early(otel, anthropic_client):
    with anthropic_client.messages.stream(model="claude-x", max_tokens=64, messages=MESSAGES) as stream:
        for _event in stream:
            break
    assert otel.only_span().name == "chat claude-x"


async def test_async_create_stream_and_helper(otel, async_anthropic_client):
    await async_anthropic_client.messages.create(model="claude-a", max_tokens=64, messages=MESSAGES)
    stream = await async_anthropic_client.messages.create(
        model="claude-b", max_tokens=64, messages=MESSAGES, stream=True
    )
    async for _ in stream:
        pass
    async with async_anthropic_client.messages.stream(
        model="claude-c", max_tokens=64, messages=MESSAGES
    ) as s:
        await s.get_final_message()
    assert sorted(span.name for span in otel.spans()) == ["chat claude-a", "chat claude-b", "chat claude-c"]


def test_errors(otel, anthropic_client):
    with pytest.raises(anthropic.RateLimitError):
        anthropic_client.messages.create(model="error-429", max_tokens=8, messages=MESSAGES)
    manager = anthropic_client.messages.stream(model="error-529", max_tokens=8, messages=MESSAGES)
    with pytest.raises(anthropic.APIStatusError), manager as stream:
        stream.get_final_message()
    first, second = otel.spans()
    assert first.attributes[sc.ERROR_TYPE] == "RateLimitError"
    assert second.status.status_code.name == "ERROR"


def test_sdk_spans_return_after_uninstrument(otel, anthropic_client):
    genai_otel.uninstrument()
    anthropic_client.messages.create(model="claude-x", max_tokens=8, messages=MESSAGES)
    scopes = {s.instrumentation_scope.name for s in otel.spans()}
    assert scopes == {"com.anthropic.sdk.python"}  # the SDK's own tracing is untouched once we leave


def test_with_raw_response(otel, anthropic_client):
    raw = anthropic_client.messages.with_raw_response.create(
        model="claude-x", max_tokens=8, messages=MESSAGES
    )
    assert raw.parse().id == otel.only_span().attributes[sc.GEN_AI_RESPONSE_ID]
