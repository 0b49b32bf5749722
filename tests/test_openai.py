"""OpenAI SDK against the local model server: every API, sync/async, streams and their edge cases."""

from __future__ import annotations

import gc
import json

import openai
import pytest

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture
from genai_otel.testing import model_server as ms

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
CAPTURE = pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)


def test_chat_completion_span_and_metrics(otel, openai_client, model_server):
    result = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        temperature=0.2,
        top_p=0.9,
        max_completion_tokens=50,
        stop=["END"],
        seed=7,
        frequency_penalty=0.1,
        presence_penalty=0.2,
        service_tier="auto",
        response_format={"type": "json_object"},
    )
    span = otel.only_span()
    a = span.attributes
    assert span.name == "chat gpt-4o-mini" and span.kind.name == "CLIENT"
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[sc.SERVER_ADDRESS] == "127.0.0.1" and a[sc.SERVER_PORT] == model_server.server_address[1]
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2 and a[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 50 and a[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert a[sc.GEN_AI_REQUEST_SEED] == 7 and a[sc.GEN_AI_OUTPUT_TYPE] == "json"
    assert a[sc.OPENAI_REQUEST_SERVICE_TIER] == "auto"
    assert a[sc.GEN_AI_RESPONSE_ID] == result.id and a[sc.GEN_AI_RESPONSE_MODEL] == result.model
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == result.usage.prompt_tokens
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == result.usage.completion_tokens
    assert a[sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_local"
    assert sc.GEN_AI_INPUT_MESSAGES not in a  # content is off by default
    assert sc.GEN_AI_REQUEST_STREAM not in a
    metrics = otel.metrics()
    duration = metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION].data.data_points[0]
    assert duration.count == 1 and duration.attributes[sc.GEN_AI_RESPONSE_MODEL] == result.model
    usage = metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS].data.data_points[0]
    assert usage.value == result.usage.prompt_tokens
    assert sc.METRIC_GEN_AI_CLIENT_TOKEN_USAGE not in metrics  # legacy profile not selected


def test_cached_and_reasoning_tokens(otel, openai_client):
    openai_client.chat.completions.create(model="o3-cache", messages=MESSAGES)
    a = otel.only_span().attributes
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == ms.CACHED_TOKENS
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == ms.REASONING_TOKENS
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] > ms.CACHED_TOKENS  # input includes cached tokens


@CAPTURE
def test_chat_content_capture_and_tool_calls(otel, openai_client):
    tools = [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "weather", "parameters": {"type": "object"}},
        }
    ]
    openai_client.chat.completions.create(model="gpt-tool", messages=MESSAGES, tools=tools, n=2)
    a = otel.only_span().attributes
    assert a[sc.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES])[1] == {
        "role": "user",
        "parts": [{"type": "text", "content": "hello there"}],
    }
    output = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert len(output) == 2
    assert output[0]["parts"] == [
        {"type": "tool_call", "id": "call_0", "name": ms.TOOL_NAME, "arguments": ms.TOOL_ARGUMENTS}
    ]
    assert json.loads(a[sc.GEN_AI_TOOL_DEFINITIONS])[0]["name"] == "get_weather"
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls", "tool_calls")


@CAPTURE
def test_stream_reassembles_tool_call_deltas(otel, openai_client):
    stream = openai_client.chat.completions.create(
        model="gpt-tool", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert len(list(stream)) > 3
    span = otel.only_span()
    a = span.attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"] == [
        {"type": "tool_call", "id": "call_0", "name": ms.TOOL_NAME, "arguments": ms.TOOL_ARGUMENTS}
    ]
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    metrics = otel.metrics()
    assert metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK].data.data_points[0].count == 1
    assert metrics[sc.METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK].data.data_points[0].count == 1


@CAPTURE
def test_stream_text_is_reassembled(otel, openai_client):
    with openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as stream:
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    output = json.loads(otel.only_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert output == [
        {"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "stop"}
    ]


def test_stream_closed_early_ends_span_once(otel, openai_client):
    stream = openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    next(iter(stream))
    assert otel.spans() == []  # still open while the stream is
    stream.close()
    stream.close()
    span = otel.only_span()
    assert span.status.status_code.name == "UNSET"


def test_stream_abandoned_ends_span_on_gc(otel, openai_client):
    stream = openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    next(iter(stream))
    del stream
    gc.collect()
    assert otel.only_span().name == "chat gpt-4o"


def test_stream_error_midway(otel, openai_client):
    stream = openai_client.chat.completions.create(model="gpt-stream-break", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIConnectionError):
        for _ in stream:
            pass
    span = otel.only_span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[sc.ERROR_TYPE] == "APIConnectionError"


def test_stream_helper_closed_early(otel, openai_client):
    with openai_client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        for _event in stream:
            break
    span = otel.only_span()  # ended when the helper closed, not at garbage collection
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True


def test_stream_helper_final_completion(otel, openai_client):
    with openai_client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        final = stream.get_final_completion()
    a = otel.only_span().attributes
    assert a[sc.GEN_AI_RESPONSE_ID] == final.id and a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


async def test_async_chat_and_stream(otel, async_openai_client):
    await async_openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    stream = await async_openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    async for _ in stream:
        pass
    names = sorted(s.name for s in otel.spans())
    assert names == ["chat gpt-4o", "chat gpt-4o-mini"]
    streamed = next(s for s in otel.spans() if s.name == "chat gpt-4o-mini")
    assert streamed.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0


async def test_async_stream_helper_and_early_close(otel, async_openai_client):
    async with async_openai_client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        async for _event in stream:
            break
    stream2 = await async_openai_client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True
    )
    await stream2.__anext__()
    await stream2.close()
    assert len(otel.spans()) == 2


@CAPTURE
def test_responses_api(otel, openai_client):
    response = openai_client.responses.create(
        model="gpt-5-reason",
        input="what is up",
        instructions="be nice",
        max_output_tokens=30,
        conversation="conv_123",
    )
    a = otel.only_span().attributes
    assert a[sc.OPENAI_API_TYPE] == "responses" and a[sc.GEN_AI_RESPONSE_ID] == response.id
    assert a[sc.GEN_AI_CONVERSATION_ID] == "conv_123"
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 30
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == ms.REASONING_TOKENS
    assert json.loads(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "be nice"}]
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"] == response.output_text


def test_responses_stream_and_helper(otel, openai_client):
    for _ in openai_client.responses.create(model="gpt-5", input="one", stream=True):
        pass
    with openai_client.responses.stream(model="gpt-5-tool", input="two") as stream:
        final = stream.get_final_response()
    spans = otel.spans()
    assert len(spans) == 2
    assert spans[1].attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert spans[1].attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == final.usage.output_tokens


async def test_async_responses(otel, async_openai_client):
    await async_openai_client.responses.create(model="gpt-5", input="hi")
    assert otel.only_span().attributes[sc.GEN_AI_RESPONSE_ID] == "resp_local123"


def test_parse_helpers(otel, openai_client):
    from pydantic import BaseModel

    class Answer(BaseModel):
        text: str = ""

    openai_client.chat.completions.parse(model="gpt-4o", messages=MESSAGES, response_format=Answer)
    span = otel.only_span()
    assert span.attributes[sc.GEN_AI_OUTPUT_TYPE] == "json"


def test_embeddings(otel, openai_client):
    openai_client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"], dimensions=16)
    openai_client.embeddings.create(model="text-embedding-3-small", input="d", encoding_format="base64")
    first, second = otel.spans()
    assert first.name == "embeddings text-embedding-3-small"
    assert first.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 16
    assert first.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert second.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert second.attributes[sc.GEN_AI_REQUEST_ENCODING_FORMATS] == ("base64",)
    metrics = otel.metrics()
    assert metrics[sc.METRIC_GEN_AI_CLIENT_OPERATION_DURATION].data.data_points[0].count == 2
    assert sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION not in metrics


def test_legacy_completions_and_stream(otel, openai_client):
    openai_client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say hi", max_tokens=5)
    for _ in openai_client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say", stream=True):
        pass
    first, second = otel.spans()
    assert first.name == "text_completion gpt-3.5-turbo-instruct"
    assert first.attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == 5
    assert second.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_with_raw_response(otel, openai_client):
    raw = openai_client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.parse().id == otel.only_span().attributes[sc.GEN_AI_RESPONSE_ID]


def test_azure_openai_provider(otel, model_server):
    client = openai.AzureOpenAI(
        azure_endpoint=model_server.url, api_key="azure-key", api_version="2026-01-01", max_retries=0
    )
    client.chat.completions.create(model="my-deployment", messages=MESSAGES)
    span = otel.only_span()
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ("error-400", openai.BadRequestError),
        ("error-429", openai.RateLimitError),
        ("error-500", openai.InternalServerError),
    ],
)
def test_http_errors_reach_app_unchanged(otel, openai_client, model, error):
    with pytest.raises(error) as caught:
        openai_client.chat.completions.create(model=model, messages=MESSAGES)
    assert f"simulated error {model[-3:]}" in str(caught.value)
    span = otel.only_span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[sc.ERROR_TYPE] == error.__name__
    point = otel.metrics()[sc.METRIC_GEN_AI_CLIENT_INFERENCE_DURATION].data.data_points[0]
    assert point.attributes[sc.ERROR_TYPE] == error.__name__


def test_timeout(otel, openai_client):
    with pytest.raises(openai.APITimeoutError):
        openai_client.with_options(timeout=0.2).chat.completions.create(model="gpt-slow", messages=MESSAGES)
    assert otel.only_span().attributes[sc.ERROR_TYPE] == "APITimeoutError"


@CAPTURE
def test_legacy_completion_stream_text_is_reassembled(otel, openai_client):
    text = "".join(
        c.choices[0].text
        for c in openai_client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say", stream=True)
        if c.choices
    )
    output = json.loads(otel.only_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert output[0]["parts"] == [{"type": "text", "content": text}]
