"""Amazon Bedrock Runtime through the real boto3 client against the model server's Bedrock protocol
(JSON, and the AWS event stream binary framing for the streaming operations)."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import StatusCode

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture

MESSAGES = [{"role": "user", "content": [{"text": "hi there"}]}]


@pytest.fixture
def client(model_server, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    return boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=model_server.url)


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_converse(otel, client, model_server):
    response = client.converse(
        modelId="anthropic.claude-sonnet",
        messages=MESSAGES,
        system=[{"text": "be brief"}],
        inferenceConfig={"maxTokens": 50, "temperature": 0.1, "topP": 0.9},
    )
    assert response["output"]["message"]["content"][0]["text"] == "Echo: hi there"
    [span] = otel.spans()
    a = span.attributes
    assert span.name == "chat anthropic.claude-sonnet" and a[sc.GEN_AI_PROVIDER_NAME] == "aws.bedrock"
    assert (
        a[sc.GEN_AI_REQUEST_MAX_TOKENS],
        a[sc.GEN_AI_REQUEST_TEMPERATURE],
        a[sc.GEN_AI_REQUEST_TOP_P],
    ) == (50, 0.1, 0.9)
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (2, 3)
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert json.loads(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "be brief"}]
    assert a[sc.SERVER_PORT] == model_server.server_address[1]


def test_guardrail_id(otel, client):
    guardrail = {"guardrailIdentifier": "gr-123", "guardrailVersion": "1"}
    client.converse(modelId="amazon.nova-lite", messages=MESSAGES, guardrailConfig=guardrail)
    assert otel.only_span().attributes[sc.AWS_BEDROCK_GUARDRAIL_ID] == "gr-123"


def test_converse_cache_tokens_count_as_input(otel, client):
    client.converse(modelId="anthropic.claude-cache", messages=MESSAGES)
    a = otel.only_span().attributes
    assert (a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS], a[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS]) == (
        10,
        5,
    )
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2 + 10 + 5


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_converse_stream_tool_use(otel, client):
    events = list(client.converse_stream(modelId="amazon.nova-tool", messages=MESSAGES)["stream"])
    assert "metadata" in events[-1]
    a = otel.only_span().attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True and a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 3 and a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    [message] = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [
        {"type": "tool_call", "id": "tooluse_0", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    ]


def test_converse_stream_closed_early(otel, client):
    stream = client.converse_stream(modelId="amazon.nova-lite", messages=MESSAGES)["stream"]
    next(iter(stream))
    stream.close()
    assert otel.only_span().end_time is not None


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (
            "anthropic.claude-3-haiku",
            {
                "messages": [{"role": "user", "content": "hi there"}],
                "max_tokens": 30,
                "anthropic_version": "bedrock-2023-05-31",
            },
        ),
        (
            "amazon.nova-lite-v1:0",
            {
                "messages": [{"role": "user", "content": [{"text": "hi there"}]}],
                "inferenceConfig": {"max_new_tokens": 30},
            },
        ),
        ("meta.llama3-8b-instruct-v1:0", {"prompt": "hi there", "max_gen_len": 30}),
        (
            "amazon.titan-text-express-v1",
            {"inputText": "hi there", "textGenerationConfig": {"maxTokenCount": 30}},
        ),
    ],
)
def test_invoke_model_families(otel, client, model, body):
    response = client.invoke_model(modelId=model, body=json.dumps(body))
    assert "Echo: hi there" in response["body"].read().decode()  # the app still reads the whole body
    a = otel.only_span().attributes
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 30
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (2, 3)
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_invoke_model_embeddings(otel, client):
    response = client.invoke_model(
        modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "a b"})
    )
    assert len(json.loads(response["body"].read())["embedding"]) == 8
    span = otel.only_span()
    assert span.name == "embeddings amazon.titan-embed-text-v2:0"
    assert (
        span.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
        and span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2
    )


def test_invoke_model_with_response_stream(otel, client):
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 20,
        "anthropic_version": "bedrock-2023-05-31",
    }
    chunks = list(
        client.invoke_model_with_response_stream(modelId="anthropic.claude-3-haiku", body=json.dumps(body))[
            "body"
        ]
    )
    assert chunks
    a = otel.only_span().attributes
    assert (a[sc.GEN_AI_USAGE_INPUT_TOKENS], a[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (1, 2)


def test_error_code_is_the_error_type(otel, client):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        client.converse(modelId="error-429", messages=MESSAGES)
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    span = otel.only_span()
    assert (
        span.status.status_code is StatusCode.ERROR
        and span.attributes[sc.ERROR_TYPE] == "ThrottlingException"
    )


def test_other_aws_services_are_untouched(otel, model_server, monkeypatch):
    import boto3
    from botocore.exceptions import ClientError

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=model_server.url)
    with pytest.raises(ClientError):
        s3.list_buckets()
    assert otel.spans() == []
