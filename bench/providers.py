"""Per-call overhead for two more providers, side by side with their OpenLLMetry and OpenInference
instrumentors in one run: Groq (chat and stream) and Amazon Bedrock (Converse and ConverseStream).

    python bench/providers.py [--calls 1000] [--rounds 5]

As in overhead.py, each variant runs in its own process; the real SDKs make their calls without a
network: Groq through an ``httpx.MockTransport``, boto3 through botocore's ``before-send`` hook
answering with canned Bedrock responses (the stream in AWS event stream framing).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from overhead import _stream_body, install_sdk, measure_calls, variant_cli

VARIANTS = {
    "none": "no instrumentation",
    "bare_span": "one hand-made span (floor)",
    "genai_otel": "genai-otel",
    "openllmetry": "OpenLLMetry opentelemetry-instrumentation-{provider}",
    "openinference": "OpenInference openinference-instrumentation-{provider}",
}
MESSAGES = [{"role": "user", "content": "Say hello"}]


def _instrument(variant: str, provider: str) -> None:
    if variant == "genai_otel":
        import genai_otel

        genai_otel.instrument(only=["groq" if provider == "groq" else "botocore"])
    elif variant == "openllmetry":
        if provider == "groq":
            from opentelemetry.instrumentation.groq import GroqInstrumentor as Instrumentor
        else:
            from opentelemetry.instrumentation.bedrock import BedrockInstrumentor as Instrumentor
        Instrumentor().instrument()
    elif variant == "openinference":
        if provider == "groq":
            from openinference.instrumentation.groq import GroqInstrumentor as Instrumentor
        else:
            from openinference.instrumentation.bedrock import BedrockInstrumentor as Instrumentor
        Instrumentor().instrument()


def _groq_calls() -> dict[str, Any]:
    import groq
    import httpx
    from overhead import CHAT_BODY

    stream_body = _stream_body()

    def respond(request: Any) -> Any:
        if b'"stream":true' in request.content.replace(b" ", b""):
            return httpx.Response(200, content=stream_body, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, content=CHAT_BODY, headers={"content-type": "application/json"})

    client = groq.Groq(
        api_key="bench",
        base_url="http://bench.local",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(respond)),
    )

    def chat() -> None:
        client.chat.completions.create(model="llama-3.3-70b", messages=MESSAGES, temperature=0.2)

    def stream() -> None:
        for _ in client.chat.completions.create(model="llama-3.3-70b", messages=MESSAGES, stream=True):
            pass

    return {"chat": chat, "stream": stream}


def _bedrock_calls() -> dict[str, Any]:
    import os

    import boto3
    from botocore.awsrequest import AWSResponse

    from genai_otel.testing.protocols.bedrock import event_message

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    usage = {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15}
    converse = json.dumps(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "Hello there!"}]}},
            "stopReason": "end_turn",
            "usage": usage,
            "metrics": {"latencyMs": 1},
        }
    ).encode()
    events = [event_message("messageStart", {"role": "assistant"})]
    events += [
        event_message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f"w{i} "}})
        for i in range(20)
    ]
    events += [
        event_message("contentBlockStop", {"contentBlockIndex": 0}),
        event_message("messageStop", {"stopReason": "end_turn"}),
        event_message("metadata", {"usage": usage, "metrics": {"latencyMs": 1}}),
    ]
    stream_body = b"".join(events)

    class Raw:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def stream(self, **kwargs: Any) -> Any:
            yield self.data

    def answer(request: Any, **kwargs: Any) -> AWSResponse:
        body = stream_body if request.url.endswith("/converse-stream") else converse
        kind = "application/vnd.amazon.eventstream" if body is stream_body else "application/json"
        return AWSResponse(request.url, 200, {"content-type": kind}, Raw(body))

    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url="http://bench.local")
    client.meta.events.register("before-send.bedrock-runtime.*", answer)
    messages = [{"role": "user", "content": [{"text": "Say hello"}]}]

    def chat() -> None:
        client.converse(
            modelId="amazon.nova-lite-v1:0", messages=messages, inferenceConfig={"temperature": 0.2}
        )

    def stream() -> None:
        for _ in client.converse_stream(modelId="amazon.nova-lite-v1:0", messages=messages)["stream"]:
            pass

    return {"chat": chat, "stream": stream}


def _measure(variant: str, provider: str, calls: int, rounds: int) -> dict[str, float]:
    tracer = install_sdk(with_metrics=False)
    _instrument(variant, provider)
    calls_by_name = _groq_calls() if provider == "groq" else _bedrock_calls()
    return measure_calls(variant, tracer, calls_by_name, calls, rounds)


def main() -> None:
    groups = {
        provider: {k: v.format(provider=provider) for k, v in VARIANTS.items()}
        for provider in ("groq", "bedrock")
    }
    variant_cli(__doc__, __file__, _measure, groups, ("chat", "stream"))


if __name__ == "__main__":
    main()
